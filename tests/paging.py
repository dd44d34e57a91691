"""Walking a paginated trainer's list page by page, and reading its downloads (shared by the
tests of the register, the technician list, quiz results and audit reports)."""

from __future__ import annotations

import csv
import html
import io
import re

from openpyxl import load_workbook

PAGER = re.compile(r'<nav class="pager"[^>]*>(.*?)</nav>', re.S)
LINK = re.compile(r'href="([^"]+)"')


def next_link(body: str, number: int) -> str | None:
    """The pager's link to page ``number`` + 1, in whichever language the page is."""
    pager = PAGER.search(body)
    links = [html.unescape(u) for u in LINK.findall(pager.group(1))] if pager else []
    return next((u for u in links if re.search(rf"[?&]page={number + 1}(&|$)", u)), None)


def walk(client, url: str, row: re.Pattern, size: int) -> tuple[list[list[str]], list[str]]:
    """Every page of a list from ``url`` on, following its "Next" link: the rows ``row`` finds
    on each page, and each page's address. Asserts no page shows more than ``size`` rows."""
    pages, urls = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        found = row.findall(body)
        assert 0 < len(found) <= size, (url, len(found))
        pages.append(found)
        urls.append(url)
        url = next_link(body, len(pages))
    return pages, urls


def csv_rows(response) -> list[dict]:
    assert response.is_streamed and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def xlsx_rows(response) -> list[dict]:
    assert response.is_streamed
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    header, *rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, r)) for r in rows]
