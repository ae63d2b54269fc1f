"""The practice server: a real SMTP server on 127.0.0.1 for `smtpshell serve` and `--demo`.

The public API lives in :mod:`smtpshell.server.practice`; importing this package stays
cheap (aiosmtpd and cryptography are imported only when a server starts).
"""

import logging

# A library's loggers stay silent unless the application configures them; without this,
# warnings would reach stderr through logging's last-resort handler and scribble over
# the REPL in `--demo` mode.
logging.getLogger(__name__).addHandler(logging.NullHandler())
