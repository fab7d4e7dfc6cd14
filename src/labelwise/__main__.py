from labelwise.cli import main

raise SystemExit(main())
