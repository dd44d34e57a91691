"""An auditor files a mystery-shopper report on a phone, start to submit; the technician then
finds it on their record, without the auditor's name."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from .conftest import screenshot, sign_in
from .test_home_pages import _layout_problems


def _pass_everything(page) -> int:
    items = page.locator("[data-item]")
    for n in range(items.count()):
        item = items.nth(n)
        kind, name = item.get_attribute("data-type"), item.get_attribute("data-item")
        if kind == "yesno":
            good = "no" if name.startswith(("accepted-", "forbidden")) else "yes"
            item.locator(f"input[value='{good}']").check()
        elif kind == "rating":
            item.locator("input[value='5']").check()
        elif kind == "choice":
            item.locator("input[type=radio]").first.check()
        elif kind == "number":
            item.locator("input[type=text]").fill("0")
            item.locator("input[type=text]").blur()
        elif kind == "time":
            item.locator("input[type=time]").fill("10:05")
        elif kind == "text" and name == "story":
            item.locator("textarea").fill("帮老人调好了遥控器的大字模式 / set the remote to large print for an elderly customer")
            item.locator("textarea").blur()
        else:
            continue
        page.locator(f"[data-item='{name}'][data-saved]").wait_for()
    return items.count()


def test_an_auditor_files_a_report_on_a_phone_and_the_technician_sees_it(live_server, new_page):
    page = new_page(360, "zh-CN")
    sign_in(page, live_server, "auditor")
    page.goto(live_server + "/audits/")
    page.locator("[data-action=new-audit]").click()
    page.wait_for_load_state()
    assert _layout_problems(page, 360) == []
    page.locator("#technician").select_option("zhengyu")
    page.locator("#visited_at").fill((datetime.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#work_order").fill("WO-BROWSER-1")
    page.locator("#product").select_option("air-conditioner")
    page.locator("#city").fill("北京")
    page.locator("[data-action=start-audit]").click()
    page.wait_for_url("**/edit")
    edit_url = page.url
    _pass_everything(page)
    problems = _layout_problems(page, 360)
    assert problems == [], problems[:10]
    screenshot(page, "audit-edit-360-zh")
    page.close()  # the browser is closed half-way: the draft is on the server
    again = new_page(360, "zh-CN")
    sign_in(again, live_server, "auditor")
    again.goto(edit_url)
    assert again.locator("input[name='r.uniform'][value='yes']").is_checked()
    again.locator("[data-action=submit-audit]").click()
    again.wait_for_url("**/audits/*")
    assert again.locator("[data-score]").inner_text() == "100.0%"
    assert again.locator("[data-consequence=good_practice]").count() == 1
    screenshot(again, "audit-report-360-zh")
    report_url = again.url

    tech = new_page(360, "zh-CN")
    sign_in(tech, live_server, "zhengyu")
    tech.goto(live_server + "/technicians/zhengyu")
    assert tech.locator(f"[data-record=audits] a[href='{report_url.removeprefix(live_server)}']").count() >= 1
    assert _layout_problems(tech, 360) == []
    screenshot(tech, "audit-record-360-zh")
    tech.goto(report_url)
    assert tech.locator("[data-auditor]").count() == 0 and "王芳" not in tech.locator("main").inner_text()
    tech.locator("[data-action=acknowledge]").click()
    tech.wait_for_load_state()
    assert "已确认" in tech.locator("[data-acknowledgement]").inner_text()


def test_trainer_audit_reports_at_a_desk(live_server, new_page):
    page = new_page(1280, "en-US")
    sign_in(page, live_server, "trainer")
    page.goto(live_server + "/audits/reports?by=region&lang=en")
    assert page.locator("[data-pareto] tbody tr").count() >= 3
    assert page.locator("[data-incidents] li").count() >= 1
    assert page.locator("[data-chart] li").count() >= 3
    assert _layout_problems(page, 1280) == []
    screenshot(page, "audit-reports-1280-en")


def _chart_problems(page, width: int) -> list[str]:
    """Each failed item's question whole and readable, its bar and figures inside the page."""
    return page.evaluate(
        """(width) => {
        const problems = [];
        for (const li of document.querySelectorAll('[data-chart] li')) {
            for (const el of li.querySelectorAll('.pareto-label, .pareto-value, progress')) {
                const r = el.getBoundingClientRect();
                if (r.left < 0 || r.right > width) problems.push(`${el.className} runs off the page`);
                if (el.scrollWidth > el.clientWidth + 1) problems.push(`${el.className} is clipped`);
                if (el.tagName !== 'PROGRESS' && parseFloat(getComputedStyle(el).fontSize) < 14)
                    problems.push(`${el.className} text is small`);
            }
            const label = li.querySelector('.pareto-label');
            if (label.textContent.includes('…')) problems.push('a question is cut short');
        }
        return problems;
    }""",
        width,
    )


@pytest.mark.parametrize("width", (360, 1280))
@pytest.mark.parametrize("locale", ("zh-CN", "en-US"))
def test_the_failed_items_chart_reads_whole_on_a_phone_and_a_desk(live_server, new_page, width, locale):
    page = new_page(width, locale)
    sign_in(page, live_server, "trainer")
    lang = locale[:2]
    page.goto(live_server + f"/audits/reports?lang={lang}")
    bars = page.locator("[data-chart] li")
    assert bars.count() >= 3
    first = bars.first.inner_text()
    assert page.locator("[data-pareto] tbody tr").first.locator("th").inner_text() in first
    assert _chart_problems(page, width) == []
    assert _layout_problems(page, width) == []
    page.locator("[data-chart]").screenshot(path=str(screenshot(page, f"audit-pareto-{width}-{lang}").with_name(
        f"audit-pareto-chart-{width}-{lang}.png")))
