"""`python -m toolkit <command>`."""

from toolkit.cli import exit_now, main

exit_now(main())
