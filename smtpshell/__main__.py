"""python -m smtpshell"""

from smtpshell.cli import main

raise SystemExit(main())
