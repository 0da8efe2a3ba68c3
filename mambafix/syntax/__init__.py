"""Rule-agnostic libcst helpers: the one statement walker (`walk`), import resolution
(`names`), node helpers (`nodes`), statement positions (`positions`) and the edit plan that
fixes are expressed in (`edits`). Nothing here knows a rule or a layer family."""
