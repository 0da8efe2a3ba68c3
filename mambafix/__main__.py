from mambafix.cli import main

main()
