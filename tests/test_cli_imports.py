"""What `runbook` imports before it needs it: `--help`, `diff --json` and the
first paint must not pay for SSH, HTTP or Textual they have not used yet
(issue 12: asyncssh alone cost 121 ms, with two `ldconfig` spawns)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from runbook.journal import Journal, Record
from tests.example_config import artifacts_in

ROOT = Path(__file__).parents[1]
PROPERTIES = ROOT / "tests" / "data" / "properties"
HEAVY = ("asyncssh", "httpx", "textual", "asyncio", "cryptography", "tomlkit")


def loaded_after(code: str) -> set[str]:
    """Top-level packages a fresh interpreter holds after running `code`."""
    probe = (f"{code}\nimport json, sys\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_importing_the_cli_imports_none_of_the_heavy_libraries() -> None:
    assert loaded_after("import runbook.cli") & set(HEAVY) == set()


def test_help_imports_none_of_them() -> None:
    code = ("import contextlib\nfrom runbook.cli import main\n"
            "with contextlib.redirect_stdout(None), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])")
    assert loaded_after(code) & set(HEAVY) == set()


def test_help_imports_no_dataclasses() -> None:
    """dataclasses brings inspect (about 7 ms here): an `import dataclasses` at
    the top of the CLI, for a replace() a run makes, took `--help` from 1.23x
    its baseline to 1.6x (issue 12)."""
    code = ("import contextlib\nfrom runbook.cli import main\n"
            "with contextlib.redirect_stdout(None), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])")
    assert loaded_after(code) & {"dataclasses", "inspect"} == set()


def test_diff_json_imports_no_ssh_http_or_textual() -> None:
    old = PROPERTIES / "red5-web.properties.live"
    new = PROPERTIES / "red5-web.properties.6.2.0.b406"
    code = ("import contextlib, io\nfrom runbook.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['diff', {str(old)!r}, {str(new)!r}, '--json'])")
    # tomlkit too: only a decisions file to rewrite needs it.
    assert loaded_after(code) & set(HEAVY) == set()


def test_the_first_screen_of_a_run_loads_no_ssh_or_http() -> None:
    """The app, its session and the procedure are built before anything is
    reached: asyncssh (about 270 ms here) and httpx load with the first
    connection and the first request, after the first paint."""
    code = ("from pathlib import Path\n"
            "from runbook.cli.wiring import plan_settings, session\n"
            "from screens.app import create_app\n"
            "here = Path('/nonexistent/run.jsonl')\n"
            "create_app(lambda earlier: session(plan_settings(None), token='t', "
            "journal_path=here, state_dir=here.parent), rehearsal=True, start_run=False)")
    assert loaded_after(code) & {"asyncssh", "httpx", "cryptography"} == set()


def test_the_first_screen_loads_neither_the_properties_code_nor_tomlkit() -> None:
    """Issue 12: the properties review (javaproperties, about 60 ms) loads when
    a review opens, and the config is read with the standard library's TOML
    parser (tomlkit, about 35 ms, only words a parse error)."""
    code = ("import sys\nfrom pathlib import Path\n"
            "from runbook.cli.wiring import plan_settings, session\n"
            "from screens.app import create_app\n"
            "here = Path('/nonexistent/run.jsonl')\n"
            "create_app(lambda earlier: session(plan_settings(None), token='t', "
            "journal_path=here, state_dir=here.parent), rehearsal=True, start_run=False)\n"
            "assert 'runbook.properties' not in sys.modules, 'runbook.properties'")
    assert loaded_after(code) & {"tomlkit", "javaproperties"} == set()



def loaded_at_first_paint() -> set[str]:
    """Every module a fresh interpreter holds once the run's app has painted its
    first screen (Ready), before the app draws the run on it (show_run)."""
    code = ("import json, sys\nfrom pathlib import Path\n"
            "from runbook.cli.wiring import plan_settings, session\n"
            "from screens.app import RunbookApp, create_app\n"
            "def show_run(app):\n"
            "    print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
            "    app.exit()\n"
            "RunbookApp.show_run = show_run\n"
            "here = Path('/nonexistent/run.jsonl')\n"
            "create_app(lambda earlier: session(plan_settings(None), token='t', "
            "journal_path=here, state_dir=here.parent), rehearsal=True, start_run=False"
            ").run(headless=True, size=(120, 40))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_the_first_paint_of_a_run_loads_no_engine_dialogs_or_report() -> None:
    """Issue 12: the first screen draws the cards alone. The executor, the
    journal and every event's dataclass load when the run is drawn or started;
    the dialogs, the full log and the report when the operator first needs them;
    the starting screen is a rehearsal's alone."""
    late = {"runbook.executor", "runbook.events", "runbook.journal", "runbook.report",
            "runbook.journal_replay", "runbook.earlier_runs", "runbook.log", "runbook.run_context",
            "screens.frontend", "screens.messages", "screens.dialogs", "screens.questions",
            "screens.records", "screens.log_view", "screens.review_handoff",
            "screens.starting"}
    assert loaded_at_first_paint() & late == set()


def test_the_first_paint_of_a_run_loads_no_hashing_or_password_prompt() -> None:
    """Issue 12: hashlib (2-3 ms here) serves a shown secret's tag and an
    upload's checksum, getpass a token typed at the prompt; the first screen
    needs neither."""
    assert loaded_at_first_paint() & {"hashlib", "_hashlib", "getpass"} == set()


def test_the_first_paint_of_a_run_loads_none_of_the_steps_code() -> None:
    """Issue 12: the first screen draws the steps' cards, which steps.cards
    holds as data (test_step_cards keeps it the steps' own). The steps'
    code, their facts and the helpers they share (about a tenth of run's
    first paint) load when a plan is first shown or the run starts."""
    loaded = loaded_at_first_paint()
    assert {name for name in loaded if name.startswith("steps.")} <= {"steps.cards"}


def test_the_first_paint_of_a_run_loads_no_step_protocol_facts_or_curl_lines() -> None:
    """Issue 12: a session is built for the first screen, but what its steps
    are (runbook.step, with runbook.shell's results), what they learn
    (runbook.facts) and the curl lines of their plans load with the first
    plan shown: five dataclasses, each compiled as it is defined."""
    loaded = loaded_at_first_paint()
    assert loaded & {"runbook.step", "runbook.shell", "runbook.facts", "runbook.curl"} == set()


def run_config(tmp_path: Path) -> Path:
    """The sample production config, its zip and jar on this machine (`run`
    refuses before its screen without them), aimed at port 9 on loopback:
    nothing listens, and nothing is reached before the paint."""
    sample = artifacts_in(tmp_path, (ROOT / "sample-configs" / "production.example.toml")
                          .read_text())
    config = tmp_path / "run.toml"
    config.write_text(sample.replace('address = "sm1.example.com"', 'address = "127.0.0.1"')
                      .replace("port = 22\n", "port = 9\n", 1))
    return config


def at_first_paint_of_run(tmp_path: Path, said: str, *, watch: str = "",
                          config: Path | None = None) -> tuple[Any, str]:
    """What `said` (a Python expression; `app` is the app) holds at `runbook
    run`'s first paint, in a fresh interpreter that ran `watch` before runbook
    loaded; and what the run printed. The run is on `config` (run_config's
    unless given), with its state in `tmp_path`."""
    config = config or run_config(tmp_path)
    code = ("import json, sys\nfrom functools import partialmethod\n" + watch +
            "from runbook import cli\nfrom runbook.cli import terminal\n"
            "from screens.app import RunbookApp\n"
            "def show_run(app):\n"
            f"    print('SAID ' + json.dumps({said}), file=sys.stderr)\n"
            "    app.exit()\n"
            "RunbookApp.show_run = show_run\n"
            "terminal.on_a_terminal = lambda: True  # headless, below\n"
            "RunbookApp.run_async = partialmethod(RunbookApp.run_async, headless=True, "
            "size=(120, 40))\n"
            f"cli.main(['run', {str(config)!r}])")
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
           "SM_API_TOKEN": "t", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env=env)
    listed = [line for line in done.stderr.splitlines() if line.startswith("SAID ")]
    assert listed, done.stdout + done.stderr
    return json.loads(listed[-1].removeprefix("SAID ")), done.stdout


def test_the_first_paint_of_runbook_run_loads_no_event_class(tmp_path: Path) -> None:
    """The same, through `runbook run` itself: before the paint the CLI reads
    the journals for an unfinished run to offer, and reading one needs only the
    records' names, not the events' eleven dataclasses (about 7 ms)."""
    config = run_config(tmp_path)
    earlier = Journal(tmp_path / "state" / "runbook" / "127.0.0.1-earlier.jsonl")
    earlier.write(Record.RUN_START, config=str(config), host="ubuntu@127.0.0.1:9", rehearsal=False,
                  steps=["preflight"], resumed=False)
    earlier.write(Record.STEP_END, step="preflight", state="failed", detail="")
    earlier.close()
    said, printed = at_first_paint_of_run(
        tmp_path, "{'modules': sorted(sys.modules), "
        "'offered': str(app.offered and app.offered.path)}", config=config)
    assert said["offered"] == str(earlier.path), said["offered"]
    # Left at the dialog, the run says where the unfinished one is (review).
    assert "an unfinished run is in" in printed, printed
    loaded = set(said["modules"])
    assert "runbook.cli" in loaded and "screens.main" in loaded
    assert loaded & {"runbook.events", "runbook.executor", "screens.messages"} == set()


def loaded_at_first_paint_of_run(tmp_path: Path) -> set[str]:
    """Every module `runbook run` holds at its first paint, on the sample
    production config aimed at a closed port, with no journal in its folder."""
    modules, _ = at_first_paint_of_run(tmp_path, "sorted(sys.modules)")
    loaded = set(modules)
    assert "screens.main" in loaded
    return loaded


def test_the_first_paint_of_runbook_run_with_no_earlier_run_replays_none(
        tmp_path: Path) -> None:
    """With no journal in its folder there is no earlier run to read: the
    replay of a journal (its dataclasses, about 1.6 ms) loads with the first
    journal there is to read, not before the first paint (issue 12)."""
    assert "runbook.journal_replay" not in loaded_at_first_paint_of_run(tmp_path)


def test_the_first_paint_of_runbook_run_loads_no_host_claim_or_way_on(tmp_path: Path) -> None:
    """Issue 12: the refusals before the first paint name the command that
    removes the host's claim (runbook.claim) and the commands that go on
    (runbook.standing) only where they refuse; with nothing to refuse,
    neither module (three dataclasses) is loaded for them."""
    assert loaded_at_first_paint_of_run(tmp_path) & {"runbook.claim", "runbook.standing"} \
        == set()


def test_every_dataclass_says_what_it_is() -> None:
    """A dataclass without a docstring gets one made at import from
    inspect.signature: some 80 microseconds each here, a dozen of them before
    the first paint (issue 12). And a reader is told what it holds."""
    import dataclasses
    import importlib
    import inspect
    import pkgutil

    undocumented = []
    for name in ("runbook", "screens", "steps"):
        package = importlib.import_module(name)
        for found in pkgutil.walk_packages(package.__path__, f"{name}."):
            module = importlib.import_module(found.name)
            for value in vars(module).values():
                if (inspect.isclass(value) and value.__module__ == module.__name__
                        and dataclasses.is_dataclass(value)
                        and value.__doc__ == value.__name__ + str(inspect.signature(value))
                        .replace(" -> None", "")):
                    undocumented.append(f"{module.__name__}.{value.__name__}")
    assert undocumented == []


def patterns_compiled_before_first_paint_of_run(tmp_path: Path) -> dict[str, list[str]]:
    """The regular expressions `runbook run` compiles before its first paint,
    by the module that asked for them (re.compile, or re.search and the like
    with a pattern's text: both go through re._compile), on the sample
    production config aimed at a closed port."""
    watch = ("import re\n"
             "asked = {}\n"
             "compile = re._compile\n"
             "def watched(pattern, flags):\n"
             "    caller = sys._getframe(2).f_globals.get('__name__', '')\n"
             "    text = pattern if isinstance(pattern, str) else repr(pattern)\n"
             "    asked.setdefault(caller, [])\n"
             "    if text not in asked[caller]:\n"
             "        asked[caller].append(text)\n"
             "    return compile(pattern, flags)\n"
             "re._compile = watched\n")
    asked, _ = at_first_paint_of_run(tmp_path, "asked", watch=watch)
    return dict(asked)


def test_the_first_paint_of_runbook_run_compiles_only_the_patterns_it_uses(
        tmp_path: Path) -> None:
    """Issue 12: compiling a regular expression runs re's compiler, in Python:
    steps.red5's seventeen and runbook.redact's seven with the token's mask
    took about 14 M instructions (callgrind, ~2 ms), and the first paint uses
    one of them, the distribution's version in its zip's name (the refusal of a
    release this procedure cannot install). Each is compiled where it is
    first used; the token's mask as the first text is masked."""
    from steps import red5

    asked = patterns_compiled_before_first_paint_of_run(tmp_path)
    assert asked.get("steps.red5", []) == [red5._DIST], asked.get("steps.red5")
    assert asked.get("runbook.redact", []) == [], asked.get("runbook.redact")


def test_runbook_run_builds_the_parser_of_its_own_command_alone(tmp_path: Path) -> None:
    """Issue 12: each command's parser is an argparse parser of its own, with
    its options' help formatted and checked as it is added: the six besides
    run's took about 7 M instructions (callgrind, ~1 ms) before `runbook
    run`'s first paint, which needs run's alone. The others are built only where a
    command line is refused or runbook's own help lists them."""
    watch = ("import argparse\n"
             "made = []\n"
             "init = argparse.ArgumentParser.__init__\n"
             "def counted(self, *args, **kwargs):\n"
             "    made.append(kwargs.get('prog'))\n"
             "    init(self, *args, **kwargs)\n"
             "argparse.ArgumentParser.__init__ = counted\n")
    made, _ = at_first_paint_of_run(tmp_path, "made", watch=watch)
    assert made == ["runbook", "runbook run"], made
