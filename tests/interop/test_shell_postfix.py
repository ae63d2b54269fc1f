"""smtpshell against a real Postfix: what only Postfix's harness has (the submission listener)
and certificate checks. The scenarios every server shares -- STARTTLS, implicit TLS, each AUTH
mechanism, the seed session (DATA with dot-stuffing, scripted and typed in the REPL), relay
refused, PIPELINING, CHUNKING -- are in test_scenarios.py, against Postfix, Exim and the
practice server alike."""

from tests.support.process import run_cli_sync


smtpshell = run_cli_sync


def test_submission_wants_starttls_first(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.submission_port), "-c", "EHLO me",
                       "-c", "MAIL FROM:<a@example.test>", "-c", ":expect 530", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "530: authentication required (often: STARTTLS first)" in result.stdout
    result = smtpshell("127.0.0.1", str(postfix.submission_port), "--starttls", "--cafile", str(postfix.cafile),
                       "-c", ":expect 250", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout


def test_certificate_name_mismatch(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.port), "--starttls", "--cafile", str(postfix.cafile),
                       "--sni", "mx.example.test", tmp_path=tmp_path)
    assert result.returncode == 3
    assert "the host name does not match the certificate (mx.example.test)" in result.stdout
