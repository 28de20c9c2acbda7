"""The `properties` step: port the live red5-web.properties into the new template.

The review itself (statuses, merge, decisions) lives in runbook.properties;
this step only fetches both files, applies the decisions file or the built-in
safe defaults, and writes the merged file when nothing is left undecided.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from runbook.model import PROPERTIES_STEP, Action, Check, EditFile, Phase, Shell
from runbook.shell import AS_IT_WAS, quote
from runbook.step import ReviewLeftOpen, StepFailed
from steps import red5
from steps.common import (
    exists,
    kept_otherwise,
    planned_trees,
    read_as_it_was_command,
    read_bytes_command,
    read_remote,
    read_remote_bytes,
    root,
    stood_in_for,
    trees,
)
from steps.facts import AnyContext, Ctx, Plan, Red5Step

if TYPE_CHECKING:
    from runbook.properties import KeyReview, Review

# runbook.properties and javaproperties are imported where they are used: the
# procedure is built before the first screen paints, and they cost 60 ms.


def overrides(p: AnyContext) -> dict[str, str]:
    """Values the runbook decides: the new database, and the operator's `set` table."""
    from runbook.properties.model import NEW_DATABASE_KEY  # not before the first paint

    s = p.settings
    values = {NEW_DATABASE_KEY: s.new_db_host}
    if s.new_db_port is not None:
        values["config.dbPort"] = str(s.new_db_port)
    values.update(s.property_overrides)
    return values


def _changed_since_the_plan(paths: list[str]) -> StepFailed:
    """One refusal for every input of the merge edited while the question
    waited: the merge shown is no longer the one that would be written."""
    # "Shown" read as the dialog's moment: the plan is made as the question
    # comes, and an edit before the dialog opened was blamed (operator trial).
    then, now = ("it as it was", "it as it is") if len(paths) == 1 else \
        ("them as they were", "them as they are")
    return StepFailed(f"{' and '.join(paths)} changed after the step's plan was made, from "
                      f"{then} when the step's turn came; nothing was written. Try the step "
                      f"again (t) to review {now} now")


def _differing(merged: dict[str, str], on_the_host: dict[str, str]) -> str:
    """Which keys the file on the host has otherwise than the merge: what a
    write would change (review: a value fixed by hand went unnamed). Names
    only: a secret's value is never said."""
    from runbook.properties import names

    keys = [key for key in {**on_the_host, **merged}
            if merged.get(key) != on_the_host.get(key)]
    if not keys:
        return ": only its comments or layout differ"
    shown = names(keys[:_NAMED])
    more = f" and {len(keys) - _NAMED} more" if len(keys) > _NAMED else ""
    return f": it differs in {shown}{more}"


def _login_placeholders(on_the_host: dict[str, str]) -> str:
    """The database keys the file still has as the template's placeholders
    ({username}, {password} as shipped), which the new release cannot log in
    with; a secret key's placeholder is named, not shown (it is masked as a
    secret value)."""
    from runbook.properties.codec import has_placeholder
    from runbook.redact import is_secret_key

    keys = [key for key in ("config.dbHost", "config.dbPort", "config.dbUser", "config.dbPass")
            if has_placeholder(on_the_host.get(key, ""))]
    if not keys:
        return ""
    shown = [key if is_secret_key(key) else f"{key} ({on_the_host[key]})" for key in keys]
    named = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]
    return (f"; {named} still {'hold' if len(keys) > 1 else 'holds'} the template's "
            f"placeholder{'s' if len(keys) > 1 else ''}, with which the new release cannot "
            "use its database")


def _why_the_cutover_needs_it(host_now: str | None, want: str) -> str:
    """Why a cutover on this file cannot work, where that is sure: its
    config.dbHost blank, absent or a placeholder ({host} as shipped), as
    start-service's own diagnosis reads it. Otherwise "" (a file edited by
    hand to another host, an alias of the new database say, is the
    operator's word). Without its runbook-kept copy, a file fixed by hand
    reads as the template itself, so the placeholder, not the file's
    origin, is what decides."""
    from runbook.properties.codec import has_placeholder

    if host_now and not has_placeholder(host_now):
        return ""
    return (f"the new stream manager would start with config.dbHost={host_now or ''}, not the "
            f"new database {want}, and without the live file's settings, so start-service "
            "could only fail, with the stream manager down")


def _left_open(result: Review, where: object) -> str:
    """Every key that keeps the merge from being written, in one refusal
    (operator trial: the keys to decide were named, the values to confirm
    only on the next try), and the two ways on."""
    parts = []
    if result.undecided:
        many = len(result.undecided) > 1
        parts.append(f"{len(result.undecided)} {'keys need' if many else 'key needs'} a value "
                     f"or a decision ({', '.join(result.undecided)})")
    if result.unconfirmed:
        many = len(result.unconfirmed) > 1
        parts.append(f"{len(result.unconfirmed)} {'values need' if many else 'value needs'} "
                     f"confirming ({', '.join(result.unconfirmed)})")
    # Both ways, since the step cannot know the front end: headless has no
    # editor, only the decisions file (second review). A key only the new
    # bean's wiring puts in the review, `runbook diff` has with --contexts.
    contexts = " (given --contexts for keys the new release's bean reads)" if any(
        key in result.for_the_bean for key in result.open_keys) else ""
    return (f"the file was not written: {' and '.join(parts)}. In the TUI, try the step "
            f"again to decide them in the editor; or give each an action (accept-new, "
            f"keep-old or set) in {where}, which `runbook diff` can write{contexts}, then "
            "try again")


# How many keys a verdict names before it counts the rest.
_NAMED = 6


def _later(ctx: AnyContext) -> str:
    """Who else opens a review left open: a resumed run, but not after a
    throwaway rehearsal, whose sandbox (its decisions file with it) goes as
    it ends; a new rehearsal's review opens afresh."""
    if ctx.settings.rehearsal_throwaway:
        return ("this rehearsal's sandbox goes as it ends, its decisions file with it: "
                "stop, then rehearse again, and the review opens afresh")
    return "so does a resumed run (--resume) once this one stops"


class Properties(Red5Step):
    id = PROPERTIES_STEP
    title = "Port red5-web.properties"
    phase = Phase.PREPARE
    summary = (
        "Carries the live stream manager settings into the new release's "
        "red5-web.properties key by key, with config.dbHost pointing at the new "
        "database. The new template has keys the old file never had, so it is merged, "
        "never copied."
    )
    caution = "Every key the new release added needs a value someone decided."
    # Prepared days before the window, the live file can change meanwhile (a
    # rotated password): a resumed run merges it again if so (operator trial).
    # Not once the cutover began: the live file is then set aside, and a run
    # resumed elsewhere may not have the decisions file (review).
    recheck_until_cutover = True

    def _paths(self, p: AnyContext) -> tuple[str, str]:
        old, new = planned_trees(p)
        return f"{old}/{red5.PROPERTIES}", f"{new}/{red5.PROPERTIES}"

    def _edit(self, p: AnyContext, path: str, live: str, review: Review | None) -> EditFile:
        sets = ", ".join(f"{k} = {v}" for k, v in overrides(p).items())
        # The merge carries the live file's secrets: as private as it, not as
        # open as the template shipped (bad-input trial: 0640 came out 0644).
        if review is None:
            return EditFile(path, f"merge key by key; set {sets}", "", private_as=live)
        from runbook.properties import render_review

        return EditFile(path, f"merge key by key; set {sets}", render_review(review),
                        private_as=live)

    def plan(self, p: Plan) -> list[Action]:
        live, new = self._paths(p)
        old_tree, new_tree = planned_trees(p)
        return [
            # Byte for byte, as Java reads them (ISO-8859-1), like `runbook diff`.
            Shell(read_bytes_command(p, live), "the live values"),
            Shell(root(p, f"cat -- {quote(f'{old_tree}/{red5.APP_CONTEXT}')}"),
                  "the live install's cloud-controller bean, which carry-over activates in "
                  "the new release"),
            Shell(root(p, f"cat -- {quote(f'{new_tree}/{red5.APP_CONTEXT}')}"),
                  "the new release's wiring of that bean: every key it reads, the merge must "
                  "set, or the new stream manager does not start"),
            # Once written, the file is runbook's merge: merged again against
            # it, the merge would take its own live values for Red5's defaults
            # (operator trial). The template as shipped is kept beside it.
            Shell(read_as_it_was_command(p, new),
                  "the new template as shipped (once the merge is written, the copy kept "
                  "beside it)"),
            Shell(read_bytes_command(p, new), "the file as it is now: the merge, once written"),
            self._edit(p, new, live, p.facts.scratch.properties_review),
        ]

    async def _where(self, ctx: Ctx) -> tuple[str, str]:
        old, new = await trees(ctx)
        return f"{old}/{red5.PROPERTIES}", f"{new}/{red5.PROPERTIES}"

    async def _review(self, ctx: Ctx, live_path: str, new_path: str) -> tuple[Review, str]:
        """The live file merged into the template as shipped, and the new file's
        text as it is now (the template itself until the merge is written)."""
        import hashlib

        from runbook.properties import (
            Decisions,
            DecisionsError,
            PropertiesError,
            decode_properties,
            keys_neither_file_has,
            review,
            stale_decisions,
        )

        if not await exists(ctx, new_path, "-f"):
            raise StepFailed(f"{new_path} is not there; run unpack first")
        old_data = await read_remote_bytes(ctx, live_path)
        needs, read_before = await self._needs(ctx)
        template = await read_remote_bytes(ctx, new_path, read_as_it_was_command(ctx, new_path))
        now = await read_remote_bytes(ctx, new_path)
        ctx.facts.scratch.properties_file_read = hashlib.sha256(now).hexdigest()
        # Named as read: once the merge is written, the template is the copy
        # kept beside it (operator trial: the review's header named the merge).
        template_name = new_path if now == template else f"{new_path}{AS_IT_WAS}"
        try:
            old_text = decode_properties(old_data, live_path)
            template_text = decode_properties(template, template_name)
            now_text = template_text if now == template else decode_properties(now, new_path)
            result = review(old_text, template_text, old_name=live_path,
                            new_name=template_name, overrides=overrides(ctx),
                            set_by=f"{ctx.settings.source} [properties] set", needs=needs,
                            read_before=read_before)
        except PropertiesError as exc:
            raise StepFailed(str(exc)) from None
        added = added_for_the_bean(result)
        if added:
            ctx.info(added)
        for line in keys_neither_file_has(result, ctx.settings.property_overrides):
            ctx.info(f"[properties] set: {line}")
        for key in result.keys:
            if key.secret:
                for value in (key.old, key.new, key.merged):
                    if value:
                        ctx.add_secret(value, name=key.key)
        decisions_path = ctx.settings.decisions
        if decisions_path is not None:
            try:
                decided = Decisions.load(decisions_path)
                outcome = decided.apply(result)
            except DecisionsError as exc:
                raise StepFailed(str(exc)) from None
            ctx.facts.scratch.properties_decided_by = decided.digest
            result.decision_result = outcome  # what run() says about keys it left open
            if outcome.reopened:
                ctx.info("the live file changed since the review; these keys need a new "
                         f"decision: {', '.join(outcome.reopened)}")
            stale = stale_decisions(outcome, result)
            if stale is not None:
                # A line of its own: deep in the review, a typo went unseen (trial).
                ctx.info(f"{decisions_path}: {stale}")
            for secret, name in outcome.missing_env.items():
                ctx.info(f"{secret} takes its value from ${name}, which is not set in runbook's "
                         "environment")
        ctx.facts.scratch.properties_review = result
        return result, now_text

    async def _needs(self, ctx: Ctx) -> tuple[dict[str, str], dict[str, str]]:
        """The keys the new release's cloud-controller bean reads: the live
        install's bean (the one carry-over activates, whether it has yet or
        not), as the new release's applicationContext.xml wires it. The
        webapp's placeholder configurer does not start on one the merged file
        leaves unset (facts audit 57b H1). And the key the live bean read for
        the same property, where it read another (review 57d M2)."""
        old, new = await trees(ctx)
        live_xml = await read_remote(ctx, f"{old}/{red5.APP_CONTEXT}")
        new_xml = await read_remote(ctx, f"{new}/{red5.APP_CONTEXT}")
        return red5.new_bean_reads(live_xml, new_xml)

    async def check(self, ctx: Ctx) -> Check:
        from runbook.properties import sha256_text

        live_path, new_path = await self._where(ctx)
        result, new_text = await self._review(ctx, live_path, new_path)
        if (release := stood_in_for(ctx)) is not None:
            # Its keys are the rehearsal's guess at the release's (trial 56, F10).
            result.stand_in = f"the rehearsal's stand-in, not the one {release} ships"
            ctx.info(f"rehearsal: the {release} template here is the rehearsal's stand-in, "
                     f"not the one {release} ships")
        verdict = await self._judged(ctx, result, new_text, live_path, new_path)
        if verdict.done:  # written by an earlier run: the databases it names
            ctx.facts.new_database_at, ctx.facts.old_database_at = _databases(result)
        if not verdict.done and sha256_text(new_text) != result.new_sha256:
            # Written before (by an earlier run, or by hand since): said before
            # the plan, or a fix made by hand is written over unnamed (review).
            ctx.info(f"{new_path}: {verdict.detail.removeprefix('the file on the host ')}; "
                     "the step writes the merge over it once you confirm")
        return verdict

    async def _judged(self, ctx: Ctx, result: Review, new_text: str, live_path: str,
                      new_path: str) -> Check:
        """_judge, and the file kept as the live one is (kept_otherwise)."""
        verdict = self._judge(ctx, result, new_text)
        if verdict.done:
            otherwise = await kept_otherwise(ctx, new_path, live_path)
            if otherwise is not None:
                return Check(False, otherwise)
        return verdict

    def _judge(self, ctx: Ctx, result: Review, new_text: str) -> Check:
        """One verdict for check and verify, so a rerun never calls done what
        verify would reject."""
        import javaproperties

        from runbook.properties import sha256_text, spelled_alike

        written = javaproperties.loads(new_text)
        want = ctx.settings.new_db_host
        merged_text = result.merged_text()
        # The merge as an older runbook spelled its values (escaped) is the
        # same merge: not a file changed since it was written (stop 50).
        is_the_merge = spelled_alike(merged_text, new_text)
        if not is_the_merge and sha256_text(new_text) == result.new_sha256:
            # Never written (re-trial: a skipped step read as a changed file).
            # Or the template edited by hand: without the copy a merge keeps
            # beside it, the two read alike (trial 54: "still the template as
            # shipped" of a file fixed by hand).
            return Check(False, "the file on the host is not runbook's merge: the merge was "
                         "never written to it (it is the template as shipped, or the template "
                         "edited by hand; runbook keeps no copy beside a file it did not "
                         "write, so it cannot tell which)"
                         + _differing(javaproperties.loads(merged_text), written)
                         + _login_placeholders(written),
                         cutover_needs=_why_the_cutover_needs_it(written.get("config.dbHost"),
                                                                 want))
        if not is_the_merge:
            # Made from the live file and the template as they are now: which
            # of the three changed since it was written, this cannot tell
            # (operator trial: a changed live value read as a hand edit).
            return Check(False, "the file on the host is not the merge of the live file and "
                         "the template as they are now (one of them, or this file, changed "
                         "since it was written)"
                         + _differing(javaproperties.loads(merged_text), written))
        if written.get("config.dbHost") != want:
            return Check(False, f"config.dbHost is {written.get('config.dbHost')!r}, not {want}")
        if result.leftover_placeholders:
            return Check(False, "placeholders remain: " + ", ".join(result.leftover_placeholders))
        return Check(True, f"merged; config.dbHost = {want}")

    async def run(self, ctx: Ctx) -> None:
        result = ctx.facts.scratch.properties_review
        if result is None:
            raise StepFailed("the properties review was not prepared; run the step again")
        self._refuse_decisions_changed_since(ctx)
        unconfirmed, opened = result.unconfirmed, result.open_keys
        if opened:
            # The front end asks now (the diff editor, or headless a yes for the
            # values nobody confirmed); the review is edited in place.
            await ctx.review(result, decisions_path=ctx.settings.decisions)
            self._decided_in_review(ctx, result, opened)
        confirmed = [key for key in unconfirmed if key not in result.unconfirmed]
        if confirmed:
            ctx.info(f"confirmed during the run: {', '.join(confirmed)}")
        where = ctx.settings.decisions or "a decisions file ([properties] decisions = ...)"
        unset = {key: name for key, name in (result.decision_result.missing_env.items()
                                             if result.decision_result else ())
                 if key in result.undecided}
        if unset:
            # One export fixes it, not another review (operator trial).
            raise StepFailed(
                "the decisions file takes these secrets from environment variables that are "
                "not set: " + ", ".join(f"{key} (${name})" for key, name in unset.items())
                + "; export them where runbook runs, then try again")
        if result.undecided or result.unconfirmed:
            if not ctx.settings.headless:
                # Left in the editor with keys open: the operator's pause
                # (headless has no editor to leave: the decisions file is the
                # way, and the step fails naming it).
                raise self._paused(ctx, result)
            raise StepFailed(_left_open(result, where))
        if result.leftover_placeholders:
            raise StepFailed("the merge would still hold placeholders in "
                             f"{', '.join(result.leftover_placeholders)}; give them values in "
                             "the decisions file")
        live_path, new_path = await self._where(ctx)
        await self._refuse_files_changed_since(ctx, result, live_path, new_path)
        counts = ", ".join(f"{n} {status}" for status, n in result.summary.items() if n)
        ctx.info(f"keys: {counts}")
        # The review as it stands now: the operator may have decided keys in
        # the editor since the plan was shown.
        from runbook.properties import encode_properties

        await ctx.write_file(self._edit(ctx, new_path, live_path, result),
                             encode_properties(result.merged_text()))
        new_db, old_db = _databases(result)
        ctx.facts.new_database_at, ctx.facts.old_database_at = new_db, old_db
        ctx.info(databases_said(new_db, old_db))

    def _paused(self, ctx: Ctx, result: Review) -> ReviewLeftOpen:
        """The review left with keys open: what the decisions file keeps, said
        in full for the report (trial 55: the decisions saved were nowhere in
        it), and the step's pause, naming what is open and the way on."""
        from runbook.properties import Decisions, DecisionsError, names, render_review

        path = ctx.settings.decisions
        try:
            saved = result.afresh(Decisions.load(path) if path is not None else None)
        except DecisionsError as exc:
            # Edited by hand meanwhile: the next review says so too.
            saved, unreadable = result.afresh(None), f" ({exc})"
        else:
            unreadable = ""
        # As trying the step again, or a resumed run, will open the review:
        # from the files and the decisions file, not from this one.
        still = saved.open_keys or result.open_keys  # the file edited meanwhile
        listed = names(still[:_NAMED]) + (f" and {len(still) - _NAMED} more"
                                          if len(still) > _NAMED else "")
        lost = [kr.key for kr in result
                if (kr.merged, kr.is_open) != (saved[kr.key].merged, saved[kr.key].is_open)]
        if path is None:
            kept = ("the config names no decisions file ([properties] decisions), so none of "
                    "its decisions is kept: the review opens afresh")
        elif unreadable:
            kept = f"{path} cannot be read{unreadable}, so the review opens without it"
        else:
            # A throwaway rehearsal's host, its decisions file with it, goes as it ends.
            opens = "trying the step again opens" if ctx.settings.rehearsal_throwaway \
                else "trying the step again or a resumed run opens"
            ctx.info(f"the review as {path} keeps it, which {opens} with (keys at their "
                     "defaults not listed):\n"
                     + render_review(saved, only=lambda kr: saved.off_default(kr.key)).rstrip())
            kept = f"{path} keeps the decisions so far"
        if lost:
            kept += (f"; {len(lost)} taken in the review {'was' if len(lost) == 1 else 'were'} "
                     f"not saved with w ({names(lost[:_NAMED])}"
                     f"{' and more' if len(lost) > _NAMED else ''}), and will be asked again")
        return ReviewLeftOpen(
            f"left in the review with {len(still)} {'key' if len(still) == 1 else 'keys'} "
            f"open ({listed}); nothing was written to the host. {kept[:1].upper()}{kept[1:]}. "
            f"Trying the step again opens the review with them; {_later(ctx)}")

    @staticmethod
    def _decided_in_review(ctx: Ctx, result: Review, opened: list[str]) -> None:
        """What the review decided after the decisions file was applied, and
        whether it wrote that into the file (the editor's w), for the step's
        account of the file (re-trial 57b, F-D: "applied to 0 keys" after w)."""
        from runbook.properties import Decisions, DecisionsError

        applied, path = result.decision_result, ctx.settings.decisions
        decided = [key for key in opened if key not in result.open_keys]
        if applied is None or path is None or not decided:
            return
        try:
            written = Decisions.load(path).digest != ctx.facts.scratch.properties_decided_by
        except DecisionsError:
            written = False
        result.decision_result = dataclasses.replace(
            applied, in_review=decided, written_to=str(path) if written else "")

    def _refuse_decisions_changed_since(self, ctx: Ctx) -> None:
        """Edited while the question waited (before the editor, which saves it
        itself), the decisions file no longer decides the merge shown (operator
        trial: that merge was written, and verify then failed)."""
        from runbook.properties import Decisions, DecisionsError

        path = ctx.settings.decisions
        if path is None:
            return
        try:
            now = Decisions.load(path).digest
        except DecisionsError as exc:
            raise StepFailed(f"{exc}; nothing was written") from None
        if now != ctx.facts.scratch.properties_decided_by:
            raise _changed_since_the_plan([str(path)])

    async def _refuse_files_changed_since(self, ctx: Ctx, result: Review, live_path: str,
                                          new_path: str) -> None:
        """The merge is the one shown only while the files are as the review
        read them: a live file edited while the question waited would be
        written over with its values from before (operator trial)."""
        import hashlib

        # The review's digests are of the files' bytes (sha256_text): compared
        # as read, with nothing to decode.
        reads: list[tuple[str, str, str | None]] = [
            (live_path, read_bytes_command(ctx, live_path), result.old_sha256),
            (new_path, read_as_it_was_command(ctx, new_path), result.new_sha256),
            # The file itself too: once written, a merge the template's copy
            # does not cover, and a hand fix made while the question waited
            # was written over (left from the trial).
            (new_path, read_bytes_command(ctx, new_path), ctx.facts.scratch.properties_file_read)]
        changed = []
        for path, command, reviewed in reads:
            data = await read_remote_bytes(ctx, path, command)
            if hashlib.sha256(data).hexdigest() != reviewed and path not in changed:
                changed.append(path)
        if changed:
            raise _changed_since_the_plan(changed)

    async def verify(self, ctx: Ctx) -> Check:
        """The file on the host is the merge run() wrote: its review, with what
        the operator decided in the editor, which a review built afresh from
        the decisions file would not hold (review: without a decisions file,
        verify failed and every retry asked the same keys again)."""
        from runbook.properties import PropertiesError, decode_properties

        written = ctx.facts.scratch.properties_review
        if written is None:  # verify follows a check, which prepares it
            raise StepFailed("the properties review was not prepared; run the step again")
        live_path, new_path = await self._where(ctx)
        try:
            new_text = decode_properties(await read_remote_bytes(ctx, new_path), new_path)
        except PropertiesError as exc:
            raise StepFailed(str(exc)) from None
        return await self._judged(ctx, written, new_text, live_path, new_path)


def added_for_the_bean(result: Review) -> str:
    """The line that names the keys the review has only because the new
    release's bean reads them (the live file and the template's active lines
    leave them unset), with the value offered where there is one: the
    template's, or the live file's for the key the live bean read instead; ""
    if none."""
    from runbook.properties import Status, names
    from runbook.properties.model import live_bean_writes

    added = [result[key] for key in result.unset_in_the_live_file]
    if not added:
        return ""
    beans = ", ".join(dict.fromkeys(result.needs[kr.key] for kr in added))

    def offered(kr: KeyReview) -> str:
        was = result.carried_from.get(kr.key)
        if was is not None:
            return (f"{names([kr.key])} ({kr.show(kr.old)}, the live file's {names([was])}, "
                    "which the same property read: goes in once confirmed)")
        # Where the live bean writes the value itself (facts audit 58b F10).
        prop = live_bean_writes(result.read_before.get(kr.key))
        where = f"; the live applicationContext.xml writes it in its bean's {prop}" if prop else ""
        if kr.status is Status.NEW_DEFAULT:
            return (f"{names([kr.key])} (the template's {kr.show(kr.new)}, commented out "
                    f"there: goes in once confirmed{where})")
        return f"{names([kr.key])} (the template gives no value: one is asked for{where})"

    said = [offered(kr) for kr in added]
    keys = "keys" if len(added) > 1 else "a key"
    return (f"the new release's {beans} bean reads {keys} the live file does not set, without "
            f"which the new stream manager does not start: {'; '.join(said)}")


def _databases(result: Review) -> tuple[str, str]:
    """The database the merged file gives the new release, and the one the
    live file gives the old: host and port, as the files say them (no login)."""
    def where(value: str | None, port: str | None) -> str:
        return (value or "?") + (f":{port}" if port else "")

    def of(key: str) -> tuple[str | None, str | None]:
        if key not in result:
            return None, None
        return result[key].merged, result[key].old

    (new_host, old_host), (new_port, old_port) = of("config.dbHost"), of("config.dbPort")
    return where(new_host, new_port), where(old_host, old_port)


def databases_said(new: str, old: str) -> str:
    """What the merge means for the databases, true whenever it is read: at
    prepare time, after the upgrade, and after a way back (operator trial 54:
    "the old release's database is no longer used ..., then remove it" was
    quoted in the report of a run rolled back onto that very database)."""
    from steps.database import DATABASE

    return (f"the merged red5-web.properties points the new release at the {DATABASE} "
            f"database on {new} (its config.dbHost and config.dbPort); the old release's "
            f"database, on {old}, stays the one the old release uses: the old install's "
            "red5-web.properties is not changed, and the way back goes back to it")
