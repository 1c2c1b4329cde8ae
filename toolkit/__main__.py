"""`python -m toolkit <command>`."""

from toolkit.cli.main import exit_now, main

exit_now(main())
