""":help as a user reads it (no server needed)."""


async def test_help_name_shows_syntax_options_and_example(make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(":help send")
    text = out.text
    assert text.startswith("* :send --from A --to B [...]  —  Send a whole message")
    assert "options: --from --to --cc --subject --body --file --attach --header" in text
    assert "example: :send --from alice@example.com --to bob@example.com" in text


async def test_help_lists_every_command_and_points_to_help_name(make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(":help")
    for name, spec in shell.commands.items():
        assert f"  {spec.syntax}" in out.text and spec.summary in out.text, name
    assert ":help NAME shows a command's options and an example" in out.text


async def test_a_mistyped_name_gets_a_suggestion(make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(":help smugle-check")
    assert "no command :smugle-check — did you mean :smuggle-check?" in out.text
    await shell.handle(":help zzz")
    assert "no command :zzz (:help lists them)" in out.text


async def test_in_data_commands_say_so(make_shell):
    shell, out = make_shell(interactive=True)
    await shell.handle(":help file")
    assert "works at the data> prompt too (after 354)" in out.text
    assert "example: DATA, then at the data> prompt: :file ./message.eml" in out.text
