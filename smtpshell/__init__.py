"""smtpshell: an interactive SMTP debugging shell that replaces `telnet host 25`."""

__version__ = "0.1.0"
