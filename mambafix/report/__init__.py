"""What a run reports and how: findings and errors (`findings`, plain data), renderers for
text/json/sarif/github (`render`), terminal manners (`terminal`) and rule docs (`docs`)."""
