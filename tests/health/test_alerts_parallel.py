"""provisioning_alerts run by two processes at once (two hosts' cron) emails each recipient once per episode."""
from __future__ import annotations

from collections import Counter

from .conftest import OLD_CODE_IN_USE

RECIPIENTS = ("admin@demo.example", "prompt.admin@demo.example")
SUBJECTS = (
    "[Prompt] Demo Organisation: Entra ID has stopped calling",
    "[Prompt] Demo Organisation: The code in use is old",
)
SUMMARY_AFTER_BOTH = "Checked 1 organisation: 0 alerts emailed (0 emails), 0 cleared, 2 still open, 0 failed."


def both_at_once(site) -> list[tuple[int, str, str]]:
    """Start two runs together and wait for both: (exit status, stdout, stderr) of each."""
    processes = [site.start("provisioning_alerts") for _ in range(2)]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        results.append((process.returncode, stdout, stderr))
    return results


def alert_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("demo: ")]


def test_two_hosts_at_once_email_each_recipient_once_per_episode(site):
    site.shell(OLD_CODE_IN_USE)

    results = both_at_once(site)

    assert [(status, stderr) for status, _, stderr in results] == [(0, ""), (0, "")]
    # Between them the two runs emailed each alert once; the other run found it open.
    lines = sorted(line for _, stdout, _ in results for line in alert_lines(stdout))
    emailed = [line for line in lines if line.endswith(": emailed 2 people")]
    assert emailed == [
        "demo: Entra ID has stopped calling: emailed 2 people",
        "demo: The code in use is old: emailed 2 people",
    ]
    assert all(": still open, emailed 2 people at " in line for line in lines if line not in emailed)
    assert len(lines) == 4
    received = Counter((message["To"], message["Subject"]) for message in site.emails())
    assert received == Counter({(to, subject): 1 for to in RECIPIENTS for subject in SUBJECTS})

    again = both_at_once(site)

    assert [(status, stderr) for status, _, stderr in again] == [(0, ""), (0, "")]
    for _, stdout, _ in again:
        assert [line.split(" at ")[0] for line in alert_lines(stdout)] == [
            "demo: Entra ID has stopped calling: still open, emailed 2 people",
            "demo: The code in use is old: still open, emailed 2 people",
        ]
        assert stdout.splitlines()[-1] == SUMMARY_AFTER_BOTH
    assert Counter((message["To"], message["Subject"]) for message in site.emails()) == received
