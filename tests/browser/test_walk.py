"""Each role's main path, walked in Chromium at phone width in both languages. On every page:
nothing wider than the screen, and one language (proper names and people's own words aside).
Screenshots go to test-artifacts/screenshots/walk-*.png."""

from __future__ import annotations

import re

import pytest
import yaml

from portal.demo.cli import DEMO_FILE, GIVEN, NETWORK_SIZE, SURNAMES

from .conftest import screenshot, sign_in

WIDTH = 360


def _proper_names() -> list[str]:
    """People, places and cohorts of the demo, in both scripts: they are names, not interface."""
    data = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    names = {"演示班 Demo cohort", "2026 年 11 月广州班 Guangzhou, November 2026", "周敏 Zhou Min", "郑洁 Zheng Jie"}
    for region in data["regions"]:
        names |= {region["name_zh"], region["name_en"]}
        for province in region["provinces"]:
            names |= {province["name_zh"], province["name_en"]}
    for outlet in data["outlets"]:
        names |= {outlet["name_zh"], outlet["name_en"], outlet["city"]}
    for user in data["users"]:
        names.add(user["name"])
    for n in range(NETWORK_SIZE):
        (sz, se), (gz, ge) = SURNAMES[n % 16], GIVEN[(n * 7 + n // 16) % 16]
        names.add(f"{sz}{gz} {se} {ge}")
    return sorted(names, key=len, reverse=True)


NAMES = _proper_names()
USERNAMES = {"admin", "trainer", "trainer2", "auditor", "auditor2", "tech", "newtech", "zhaolei", "sunli",
             "zhoujie", "wuhao", "zhengyu", "hemei"}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# Words that are the same in a Chinese interface: units, formats, brands, the language switch.
# (Pa and the Gree-style display code Lc appear in content since issue 14's facts: "多少 Pa", "HC、Lc、PH".)
SAME_IN_CHINESE = {"min", "kg", "mm", "cm", "km", "kw", "pa", "kpa", "mpa", "lc", "hz", "csv", "excel", "xlsx", "pdf",
                   "png", "jpeg", "webp", "gif", "english", "wifi", "app", "ok", "vs", "no"}


def _visible_interface_text(page) -> list[str]:
    """What the interface itself says: navigation, headings, buttons, labels, table heads, field
    hints and messages; not the body of a case or lesson (content has its own language)."""
    return page.evaluate("""() => {
        const seen = [];
        const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
            return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
        // A case's title is content, in the language the case was written in.
        const CONTENT = 'a[href*="/cases/"]:not([href$="/cases/new"]):not([href$="/cases/mine"])';
        for (const el of document.querySelectorAll(
                'header a, nav a, h1, h2, h3, button, .button, label, legend, th, dt, summary, .hint, .flash, '
                + '.notice, .lead, .tag, .meta, input[type=submit], main p, main li, main td, main dd, main a')) {
            if (!visible(el) || el.closest('.case-body, .lesson-body, .markdown, [lang]:not(html)')) continue;
            if (el.matches(CONTENT)) continue;
            let text = el.matches('input') ? el.value : el.innerText || '';
            for (const link of el.querySelectorAll(CONTENT)) text = text.replace(link.innerText, ' ');
            text = text.replace(/\\s+/g, ' ').trim();
            if (text) seen.push(text);
        }
        return seen;
    }""")


# Chinese words that English content is about (the audit item on polite language asks for 您).
QUOTED = ("respectful 您",)
GLOSS = re.compile(r"\([^()]*[\u3400-\u9fff][^()]*\)|[\u3400-\u9fff]+(?= \()")


def _without_names(text: str, lang: str = "zh") -> str:
    for name in NAMES:
        text = text.replace(name, " ")
    if lang == "en":
        # A Chinese term glossed in English content ("the certificate (一证件)", "到了就好 (fixed when
        # you arrive)") names a norm technicians hear in Chinese; it is quoted, not untranslated.
        text = GLOSS.sub(" ", text)
        for quoted in QUOTED:
            text = text.replace(quoted, " ")
    return text


def language_problems(texts: list[str], lang: str) -> list[str]:
    problems = []
    for text in texts:
        plain = _without_names(text, lang)
        if lang == "en":
            if CJK.search(plain):
                problems.append(text)
        else:
            words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9'_-]*[A-Za-z0-9]", plain)
                     if w.lower() not in SAME_IN_CHINESE and w not in USERNAMES and not w.isupper()
                     and not re.search(r"\d", w)]
            # Codes and model numbers (GD-GZ-01, R32, E1, KFR-35GW) are upper case or carry digits.
            if words:
                problems.append(text)
    return problems


class Walk:
    """One person's path. Every address carries ?lang=, so the language is the one under test
    whatever another test chose for this user before; problems are collected page by page."""

    def __init__(self, page, base: str, role: str, lang: str):
        self.page, self.base, self.role, self.lang = page, base, role, lang
        self.problems: list[str] = []

    def go(self, path: str) -> None:
        path = path.removeprefix(self.base)
        self.page.goto(self.base + path + ("&" if "?" in path else "?") + "lang=" + ("zh_CN" if self.lang == "zh" else "en"))
        self.page.wait_for_load_state()

    def follow(self, selector: str) -> None:
        """Open the first link the page offers for the next step (the path a person would tap)."""
        link = self.page.locator(selector).first
        assert link.count() == 1, f"{self.role}: no link {selector} on {self.page.url}"
        self.go(link.get_attribute("href"))

    def check(self, step: str) -> None:
        page = self.page
        expected = "zh-CN" if self.lang == "zh" else "en"
        assert page.locator("html").get_attribute("lang") == expected, (step, page.url)
        width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        screenshot(page, f"walk-{self.role}-{step}-{self.lang}")
        if width[0] > width[1]:
            self.problems.append(f"{step}: page is {width[0]}px wide on a {width[1]}px screen")
        texts = _visible_interface_text(page)
        assert len(texts) >= 3, f"{step}: the page shows its interface"
        self.problems += [f"{step}: mixed language: {t!r}" for t in language_problems(texts, self.lang)]


def walk_technician(walk):
    walk.go("/technician")
    walk.check("home")
    form = walk.page.locator("[data-section=cases] form")
    assert form.count() == 1, "the home page offers the case search"
    walk.go("/cases?q=E1")
    walk.check("search")
    walk.follow(".result-link")
    walk.check("case")
    feedback = walk.page.locator("form[action$='/feedback'] button").first
    assert feedback.count() == 1, "the case page offers feedback"
    feedback.scroll_into_view_if_needed()
    walk.check("feedback")


def walk_new_technician(walk):
    walk.go("/technician")
    walk.check("home")
    walk.go("/learning/")
    walk.check("learning")
    walk.follow("main a[href*='/lessons/']")
    walk.check("lesson")
    walk.go("/quizzes/onboarding-final")
    walk.check("quiz-start")


def walk_trainer(walk):
    walk.go("/trainer")
    walk.check("home")
    walk.go("/dashboard/")
    walk.check("dashboard")
    walk.follow("main a[href*='/learning/cohorts/']")
    walk.check("cohort")
    walk.go("/certificates/")
    walk.check("certificates")
    walk.go("/quizzes/onboarding-final/report")
    walk.check("quiz-report")


def walk_auditor(walk):
    walk.go("/auditor")
    walk.check("home")
    walk.go("/audits/new")
    walk.check("new-audit")
    walk.go("/audits/")
    walk.follow("main a[href$='/edit']")
    walk.check("form")


def walk_admin(walk):
    walk.go("/admin")
    walk.check("home")
    walk.go("/admin/users")
    walk.check("users")


WALKS = {"tech": walk_technician, "newtech": walk_new_technician, "trainer": walk_trainer,
         "auditor": walk_auditor, "admin": walk_admin}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("username", list(WALKS))
def test_each_role_walks_its_main_path_on_a_phone_in_one_language(live_server, new_page, username, locale):
    page = new_page(WIDTH, locale)
    sign_in(page, live_server, username)
    walk = Walk(page, live_server, username, "zh" if locale == "zh-CN" else "en")
    WALKS[username](walk)
    assert walk.problems == []


def test_the_language_check_sees_mixed_text():
    """The heuristic itself: what it lets through and what it catches."""
    assert language_problems(["Save", "陈强 Chen Qiang", "GD-GZ-01 · R32 · E1", "5 min"], "en") == []
    assert language_problems(["保存 · 陈强 Chen Qiang", "GD-GZ-01 · KFR-35GW", "tech", "chenhua05", "CSV · Excel"],
                             "zh") == []
    assert language_problems(["保存 Save changes"], "zh") == ["保存 Save changes"]
    assert language_problems(["Attempts"], "zh") == ["Attempts"]
    assert language_problems(["保存"], "en") == ["保存"]
    assert language_problems(["Appearance and the certificate (一证件)", "到了就好 (fixed when you arrive)"], "en") == []
