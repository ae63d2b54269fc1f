""":send, :bdat and :file against a real Postfix: DSN, SMTPUTF8, 8BITMIME and CHUNKING are
Postfix's own; what arrives is read back from the Maildir."""

import email
import email.policy
import uuid
from tests.support.process import run_cli_sync


def smtpshell(*args, env=None, tmp_path):
    return run_cli_sync(*args, "--color", "never", tmp_path=tmp_path, env=env, timeout=120, text=False)


def out(result) -> str:
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def parse(path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_send_with_dsn_gets_a_success_report_with_the_envid(postfix, tmp_path):
    token, envid = uuid.uuid4().hex, f"env-{uuid.uuid4().hex[:12]}"
    result = smtpshell("127.0.0.1", str(postfix.port), "--send", "--from", postfix.address,
                       "--to", f"bob@{postfix.domain}", "--subject", f"dsn {token}", "--body", "hello Bob",
                       "--notify", "success,failure", "--ret", "hdrs", "--envid", envid, tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 0, text
    assert f"RET=HDRS ENVID={envid}" in text and "NOTIFY=SUCCESS,FAILURE" in text
    assert "did not advertise" not in text  # Postfix offers DSN
    delivered = parse(postfix.wait_for_delivery("bob", containing=token.encode()))
    assert delivered["Subject"] == f"dsn {token}"
    assert delivered.get_content().strip() == "hello Bob"
    report = postfix.wait_for_delivery(postfix.user, containing=f"Original-Envelope-Id: {envid}".encode())
    data = report.read_bytes()
    assert b"Successful Mail Delivery Report" in data
    assert b"text/rfc822-headers" in data  # RET=HDRS: the headers only came back
    assert token.encode() in data


def test_send_smtputf8_8bit_with_an_attachment(postfix, tmp_path):
    token = uuid.uuid4().hex
    attachment = tmp_path / "figures.bin"
    attachment.write_bytes(bytes(range(256)) * 64)
    result = smtpshell("127.0.0.1", str(postfix.port), "--send", "--from", f"jörg@{postfix.domain}",
                       "--to", f"bob@{postfix.domain}", "--subject", f"Grüße ☃ {token}", "--body", "Schöne Grüße\\n",
                       "--attach", str(attachment), "--smtputf8", "--8bit", tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 0, text
    assert "SMTPUTF8" in text and "BODY=8BITMIME" in text and " SIZE=" in text
    path = postfix.wait_for_delivery("bob", containing=token.encode())
    raw = path.read_bytes()
    assert f"Subject: Grüße ☃ {token}".encode() in raw  # raw UTF-8 header (RFC 6532)
    assert f"From: jörg@{postfix.domain}".encode() in raw
    message = parse(path)
    body, part = list(message.iter_parts())
    assert body.get_content() == "Schöne Grüße\n" and body["Content-Transfer-Encoding"] == "8bit"
    assert part.get_filename() == "figures.bin"
    assert part.get_payload(decode=True) == attachment.read_bytes()


def test_bdat_chunks_arrive_intact(postfix, tmp_path):
    token = uuid.uuid4().hex
    message = tmp_path / "chunked.eml"
    body = b"".join(b".line %04d starts with a dot and is not stuffed in BDAT\r\n" % n for n in range(400))
    message.write_bytes(f"Subject: bdat {token}\r\nMessage-ID: <{token}@smtpshell.test>\r\n\r\n".encode() + body)
    result = smtpshell("127.0.0.1", str(postfix.port), "-c", "EHLO smtpshell.test",
                       "-c", f"MAIL FROM:<{postfix.address}>", "-c", f"RCPT TO:<bob@{postfix.domain}>",
                       "-c", f":bdat {message} --chunk-size 5000", "-c", r":bdat \r\n--\r\nlast chunk\r\n --last",
                       "-c", ":expect 250", tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 0, text
    sizes = [int(line.split()[1]) for line in text.splitlines() if line.startswith("BDAT ")]
    assert sizes[:-1] == [5000] * (len(sizes) - 2) + [message.stat().st_size % 5000 or 5000]
    assert sizes[-1] == 18 and text.count("queued as") == 1  # one message, queued on LAST
    delivered = postfix.wait_for_delivery("bob", containing=token.encode()).read_bytes()
    assert delivered.endswith(body.replace(b"\r\n", b"\n") + b"\n--\nlast chunk\n")


def test_send_bdat_through_postfix(postfix, tmp_path):
    token = uuid.uuid4().hex
    result = smtpshell("127.0.0.1", str(postfix.port), "--send", "--from", postfix.address, "--to",
                       f"bob@{postfix.domain}", "--subject", f"send bdat {token}", "--body", "a\\n.b\\nc",
                       "--bdat", "--chunk-size", "100", tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 0, text
    assert "\nBDAT 100\n" in text and " LAST\n" in text and "\nDATA\n" not in text
    message = parse(postfix.wait_for_delivery("bob", containing=token.encode()))
    assert message.get_content() == "a\n.b\nc\n"


def test_a_5_mb_file_arrives_byte_exact(postfix, tmp_path):
    token = uuid.uuid4().hex
    head = (f"From: <{postfix.address}>\nTo: <bob@{postfix.domain}>\nSubject: five megabytes {token}\n"
            f"Date: Mon, 01 Jan 2024 10:00:00 +0000\nMessage-ID: <{token}@smtpshell.test>\n\n").encode()
    lines = []
    for n in range(95000):
        lines.append(b"." * (n % 3) + b"line %06d of the body, some of which start with dots\n" % n)
    body = b"".join(lines)
    message = tmp_path / "five.eml"
    message.write_bytes(head + body)
    assert message.stat().st_size > 5_000_000
    result = smtpshell("127.0.0.1", str(postfix.port), "-c", "EHLO smtpshell.test",
                       "-c", f"MAIL FROM:<{postfix.address}>", "-c", f"RCPT TO:<bob@{postfix.domain}>",
                       "-c", "DATA", "-c", f":file {message}", "-c", ":expect 250", tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 0, text
    assert "… 95,000 more lines" in text and len(text.splitlines()) < 60  # a summary, not 70,000 lines
    delivered = postfix.wait_for_delivery("bob", containing=token.encode()).read_bytes()
    header_section, _, delivered_body = delivered.partition(b"\n\n")
    assert delivered_body == body  # every dot-stuffed line un-stuffed, nothing else changed
    for line in head.splitlines()[:-1]:
        assert line in header_section.splitlines()


def test_one_shot_on_the_submission_port_with_starttls_and_auth(postfix, tmp_path):
    token = uuid.uuid4().hex
    password = tmp_path / "password"
    password.write_text(postfix.password + "\n")
    result = smtpshell("127.0.0.1", str(postfix.submission_port), "--starttls", "--cafile", str(postfix.cafile),
                       "--user", postfix.user, "--password-file", str(password), "--send", "--from", postfix.address,
                       "--to", f"bob@{postfix.domain}", "--subject", f"submitted {token}", tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 0, text
    assert "TLS started (STARTTLS)" in text and f"authenticated as {postfix.user}" in text
    assert postfix.password not in text
    postfix.wait_for_delivery("bob", containing=token.encode())


def test_one_shot_refused_exits_4(postfix, tmp_path):
    result = smtpshell("127.0.0.1", str(postfix.port), "--send", "--from", postfix.address,
                       "--to", "someone@elsewhere.invalid", tmp_path=tmp_path)
    text = out(result)
    assert result.returncode == 4, text
    assert "RCPT TO:<someone@elsewhere.invalid> refused: 554 5.7.1" in text
    assert "stopping the transaction with RSET" in text and "\nRSET\n" in text
