"""``junit.xml``: one testcase per check, classname by category."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .._util import xml_safe
from ._json import not_judged_as
from ._text import render_check
from ._types import Report

__all__ = ["render_junit"]


def render_junit(report: Report) -> str:
    checks = report["checks"]
    failed = [c for c in checks if c["status"] == "fail"]
    suites = ET.Element("testsuites", name="conformance")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"conformance ({report['contract']['profile']})",
        tests=str(len(checks)),
        failures=str(len(failed)),
        errors=str(sum(c["status"] == "error" for c in checks)),
        skipped=str(sum(c["status"] == "skip" for c in checks)),
        time=f"{report['duration_s']:.3f}",
        timestamp=report["started_at"],
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("verdict", report["verdict"]),
        ("level", report["level"] or "none"),
        ("base_url", report["target"]["base_url"] or "embedded or offline"),
        ("model", report["target"]["model"] or ""),
        ("seed", "" if report["seed"] is None else str(report["seed"])),
        (
            "level_blockers",
            "; ".join(f"{b['check'] or 'run'}: {b['reason']}" for b in report["level_blockers"]),
        ),
        ("cases_not_sent", ", ".join(run["cases_skipped"]) if (run := report.get("run")) else ""),
    ):
        ET.SubElement(properties, "property", name=name, value=str(value))
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{check['category']}",
            name=f"{check['id']}: {check['title']}",
            time=f"{check.get('time_s', 0.0):.3f}",
        )
        facts = ET.SubElement(case, "properties")
        for name, value in (
            ("severity", check["severity"]),
            ("level", check["level"]),
            ("exercised", f"{check['exercised']}/{check['exchanges']}"),
        ):
            ET.SubElement(facts, "property", name=name, value=value)
        if check["status"] == "fail":
            first = check["failures"][0]["message"] if check["failures"] else "failed"
            waived = check.get("waiver") and not check["waiver"].get("expired")
            kind = "skipped" if waived else "failure"
            element = ET.SubElement(
                case,
                kind,
                message=(f"waived: {check['waiver']['reason']} " if waived else "")
                + f"[{check['severity']}] {first}",
            )
            if kind == "failure":
                element.set("type", check["severity"])
            element.text = render_check(check)
        elif check["status"] == "error":
            element = ET.SubElement(case, "error", message="; ".join(check.get("errors") or []))
        elif check["status"] == "skip":
            reasons = "; ".join(check["skip_reasons"]) or "no exchange applied"
            what = not_judged_as(check)
            ET.SubElement(case, "skipped", message=f"{what}: {reasons}")
    ET.indent(suites)
    # what XML 1.0 forbids (a server's ESC, NUL, lone surrogate...) shown as escapes, so that
    # every JUnit reader parses the file
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + xml_safe(ET.tostring(suites, encoding="unicode"))
        + "\n"
    )
