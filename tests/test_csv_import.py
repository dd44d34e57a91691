"""Bulk import of technicians: all rows or none, every bad row named by line."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from portal.auth.csvimport import import_technicians
from portal.auth.models import User
from portal.extensions import db

from .conftest import get_csrf, login


def _usernames() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(User.username)))


def test_good_file_imports_every_row(network):
    data = (
        "username,name,outlet,password,start_date,locale\n"
        "Li.Lei,李雷,GD-GZ-01,,2026-03-02,zh_CN\n"
        "han.mei,韩梅梅,gd-fs-01,her-own-pass,,en\n"
    ).encode("utf-8")
    result = import_technicians(data)
    assert result.ok, result.errors
    assert [u for u, _n, _p in result.created] == ["li.lei", "han.mei"]
    generated = dict((u, p) for u, _n, p in result.created)
    assert generated["li.lei"] and generated["han.mei"] is None
    li = db.session.scalar(select(User).where(User.username == "li.lei"))
    assert li.roles == {"technician"} and li.outlet.code == "GD-GZ-01"
    assert li.must_change_password and li.locale == "zh_CN"
    assert str(li.start_date) == "2026-03-02"


def test_any_bad_row_imports_nothing_and_lists_every_problem(network, make_user):
    make_user("taken", "technician")
    before = _usernames()
    data = (
        "username,name,outlet,password,start_date\n"
        "ok.one,甲,GD-GZ-01,,\n"          # line 2: fine
        "taken,乙,GD-GZ-01,,\n"           # line 3: username exists
        "ok.two,,GD-GZ-01,,\n"            # line 4: no name
        "ok.three,丙,XX-00,,\n"           # line 5: unknown outlet
        "ok.one,丁,GD-GZ-01,,\n"          # line 6: repeats line 2
        "ok.four,戊,GD-GZ-01,short,\n"    # line 7: password too short
        "ok.five,己,GD-GZ-01,,03/02/2026\n"  # line 8: bad date
        "b@d,庚,GD-GZ-01,,\n"             # line 9: bad username
    ).encode("utf-8")
    result = import_technicians(data)
    assert not result.ok
    lines = sorted({line for line, _ in result.errors})
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    reasons = dict(result.errors)
    assert "taken" in reasons[3]
    assert "XX-00" in reasons[5]
    assert "line 2" in reasons[6]
    assert _usernames() == before


def test_quoted_multiline_cells_keep_true_line_numbers(network):
    data = ('username,name,outlet\n"ok.one","甲\n乙",GD-GZ-01\nbad!,丙,GD-GZ-01\n').encode()
    result = import_technicians(data)
    # A name holds no line break (a control character; see portal/inputs.py): line 2 is refused
    # where it starts, and the next record is still reported on its true line.
    assert [line for line, _ in result.errors] == [2, 4]
    # A bad record that itself spans lines is reported where it starts.
    data = ('username,name,outlet\nok.one,甲,GD-GZ-01\n"bad!","乙\n丙\n丁",GD-GZ-01\n').encode()
    assert {line for line, _ in import_technicians(data).errors} == {3}


def test_excel_bom_and_chinese_headers(network):
    data = "\ufeff用户名,姓名,网点\r\nwang.wu,王五,GD-GZ-01\r\n".encode("utf-8")
    result = import_technicians(data)
    assert result.ok, result.errors
    assert "wang.wu" in _usernames()


def test_header_and_encoding_problems(network):
    assert not import_technicians(b"").ok
    result = import_technicians("username,name\nx.y,z\n".encode())
    assert result.errors[0][0] == 1 and "outlet" in result.errors[0][1]
    result = import_technicians("username,name,outlet,shoe_size\n".encode())
    assert "shoe_size" in result.errors[0][1]
    result = import_technicians("username,name,outlet\nli,李,GD-GZ-01\n".encode("gbk"))
    assert not result.ok and "UTF-8" in result.errors[0][1]
    result = import_technicians(b"username,name,outlet\n")
    assert not result.ok
    result = import_technicians("username,name,outlet\nok.one,甲,GD-GZ-01,extra\n".encode())
    assert result.errors[0][0] == 2


def test_review_edge_cases(network):
    # Too long a name is a row error, not a database error.
    result = import_technicians(f"username,name,outlet\nlong.name,{'名' * 121},GD-GZ-01\n".encode())
    assert result.errors[0][0] == 2 and "120" in result.errors[0][1]
    # NUL characters are refused per row.
    result = import_technicians("username,name,outlet\nnul.one,甲\x00,GD-GZ-01\n".encode())
    assert result.errors[0][0] == 2
    # A column given twice is refused instead of silently using the last one.
    result = import_technicians("username,name,outlet,name\nx.one,甲,GD-GZ-01,\n".encode())
    assert result.errors[0][0] == 1 and "name" in result.errors[0][1]
    # Data in a column without a header is not silently dropped.
    result = import_technicians("username,name,outlet,\nx.two,乙,GD-GZ-01,surprise\n".encode())
    assert result.errors[0][0] == 2
    # Dates must be written YYYY-MM-DD.
    result = import_technicians("username,name,outlet,start_date\nx.three,丙,GD-GZ-01,20260302\n".encode())
    assert result.errors[0][0] == 2
    # A bad byte refuses the whole file, naming the line it is on.
    data = "username,name,outlet\nx.four,丁,GD-GZ-01\n".encode() + "x.five,戊,GD-GZ-01\n".encode("gbk")
    result = import_technicians(data)
    assert result.file_problem and "line 3 reads as GBK" in result.errors[0][1]
    assert _usernames() == set()


def test_passwords_are_taken_exactly_as_written(network):
    result = import_technicians("username,name,outlet,password\nspace.pw,甲,GD-GZ-01, two words \n".encode())
    assert result.ok, result.errors
    from portal.auth.services import authenticate

    assert authenticate("space.pw", " two words ", "127.0.0.1").ok


def test_row_limit(network):
    rows = "".join(f"user.{i:04d},名{i},GD-GZ-01\n" for i in range(1001))
    result = import_technicians(("username,name,outlet\n" + rows).encode())
    assert not result.ok and "1000" in result.errors[-1][1]
    assert result.errors[-1][0] == 1002
    assert _usernames() == set()


def test_upload_page(client, users):
    login(client, "admin")
    token = get_csrf(client, "/admin/import")
    bad = "username,name,outlet\nnew.one,甲,GD-GZ-01\nnew.two,乙,NOPE\n".encode()
    response = client.post("/admin/import?lang=en", data={
        "csrf_token": token, "file": (io.BytesIO(bad), "techs.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page and "Line 3" in page and "NOPE" in page
    assert "new.one" not in _usernames()
    good = "username,name,outlet\nnew.one,甲,GD-GZ-01\n".encode()
    response = client.post("/admin/import?lang=en", data={
        "csrf_token": token, "file": (io.BytesIO(good), "techs.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 200
    assert "1 technician imported." in response.get_data(as_text=True)
    assert "new.one" in _usernames()


def test_template_download_opens_in_excel(client, users):
    login(client, "admin")
    response = client.get("/admin/import/template.csv")
    assert response.data.startswith("\ufeff".encode("utf-8"))
    assert "username,name,outlet" in response.get_data(as_text=True)
    # The template itself imports once its outlet exists.
    assert import_technicians(response.data).ok
    assert db.session.scalar(select(func.count(User.id)).where(User.username == "zhang.wei")) == 1
