"""User and service-network administration (role: admin)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import or_, select

from ..extensions import db
from ..inputs import MAX_PAGE, int_arg
from ..products import PRODUCTS
from ..security import roles_required
from ..templating import product_label
from . import network
from .csvimport import import_technicians
from .forms import (
    ConfirmForm,
    EditUserForm,
    ImportForm,
    OutletForm,
    ProvinceForm,
    RegionForm,
    TokenForm,
    UserFilterForm,
    UserForm,
    role_choices,
)
from .models import ROLES, AccountEvent, ApiToken, Outlet, Province, Region, User, UserRole
from .services import (
    AccountError,
    active_sessions,
    end_all_sessions,
    create_user,
    find_user,
    account_wait,
    generate_password,
    issue_token,
    reset_password,
    revoke_token,
    set_active,
    unlock_account,
    update_user,
    user_tokens,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 50


def _user_or_404(username: str) -> User:
    user = find_user(username)
    if user is None:
        abort(404)
    return user


def _actor() -> User:
    return current_user._get_current_object()


def _add_error(form, exc: AccountError, default: str) -> None:
    field = getattr(form, exc.field or default, None) or getattr(form, default)
    field.errors = list(field.errors) + [str(exc)]


# --- users ---------------------------------------------------------------------------


@bp.route("/users")
@roles_required("admin")
def users():
    form = UserFilterForm(request.args)
    form.role.choices = [("", _("All roles"))] + role_choices()
    form.status.choices = [("", _("Active")), ("inactive", _("Deactivated")),
                           ("all", _("All")), ("no-outlet", _("Technicians without outlet"))]
    query = select(User).order_by(User.username)
    q = (form.q.data or "").strip()
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(User.username.like(like), User.name.ilike(f"%{q}%")))
    if form.role.data in ROLES:
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == form.role.data)))
    status = form.status.data or ""
    if status == "inactive":
        query = query.where(User.active.is_(False))
    elif status == "no-outlet":
        query = query.where(
            User.active.is_(True), User.outlet_id.is_(None),
            User.id.in_(select(UserRole.user_id).where(UserRole.role == "technician")),
        )
    elif status != "all":
        query = query.where(User.active.is_(True))
    page = db.paginate(query, page=int_arg("page", 1, 1, MAX_PAGE), per_page=PER_PAGE, error_out=False)
    return render_template("admin/users.html", page=page, form=form)


def _fill_choices(form) -> None:
    form.roles.choices = role_choices()
    form.outlet.choices = network.outlet_choices()


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def new_user():
    form = UserForm()
    _fill_choices(form)
    if request.method == "GET":
        form.roles.data = ["technician"]
    if form.validate_on_submit():
        password = form.password.data or generate_password()
        try:
            user = create_user(
                form.username.data, form.roles.data, password, name=form.name.data,
                outlet_code=form.outlet.data or None, start_date=form.start_date.data,
                must_change_password=True, actor=_actor(),
            )
        except AccountError as exc:
            db.session.rollback()
            _add_error(form, exc, "username")
        else:
            return render_template("admin/password_shown.html", user=user, password=password,
                                   created=True)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/users/<username>")
@roles_required("admin")
def user_detail(username: str):
    user = _user_or_404(username)
    events = db.session.scalars(
        select(AccountEvent).where(AccountEvent.user_id == user.id)
        .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()).limit(50)
    ).all()
    return render_template(
        "admin/user_detail.html", user=user, events=events, tokens=user_tokens(user),
        confirm=ConfirmForm(), token_form=TokenForm(), sessions=active_sessions(user),
        locked=account_wait(user.username),
    )


@bp.route("/users/<username>/edit", methods=["GET", "POST"])
@roles_required("admin")
def edit_user(username: str):
    user = _user_or_404(username)
    form = EditUserForm(obj=user if request.method == "GET" else None)
    _fill_choices(form)
    if request.method == "GET":
        form.roles.data = sorted(user.roles)
        form.outlet.data = user.outlet.code if user.outlet else ""
    if form.validate_on_submit():
        try:
            update_user(user, name=form.name.data, roles=form.roles.data,
                        outlet_code=form.outlet.data or None, start_date=form.start_date.data,
                        actor=_actor())
        except AccountError as exc:
            db.session.rollback()
            _add_error(form, exc, "roles")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.user_detail", username=user.username))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user), status


@bp.route("/users/<username>/password", methods=["POST"])
@roles_required("admin")
def reset_user_password(username: str):
    user = _user_or_404(username)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    password = reset_password(user, _actor())
    return render_template("admin/password_shown.html", user=user, password=password, created=False)


@bp.route("/users/<username>/active", methods=["POST"])
@roles_required("admin")
def set_user_active(username: str):
    user = _user_or_404(username)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    try:
        set_active(user, active, _actor())
    except AccountError as exc:
        flash(str(exc), "error")
    else:
        flash(_("%(username)s is active again.", username=user.username) if active
              else _("%(username)s is deactivated and signed out everywhere.", username=user.username),
              "success")
    return redirect(url_for("admin.user_detail", username=user.username))


@bp.route("/users/<username>/sessions/end", methods=["POST"])
@roles_required("admin")
def end_sessions(username: str):
    user = _user_or_404(username)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    ended = end_all_sessions(user, _actor())
    flash(ngettext("%(num)d device signed out.", "%(num)d devices signed out.", ended), "success")
    return redirect(url_for("admin.user_detail", username=user.username))


@bp.route("/users/<username>/unlock", methods=["POST"])
@roles_required("admin")
def unlock_user(username: str):
    user = _user_or_404(username)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    unlock_account(user.username, _actor())
    flash(_("%(username)s can sign in again.", username=user.username), "success")
    return redirect(url_for("admin.user_detail", username=user.username))


# --- API tokens ------------------------------------------------------------------------


@bp.route("/users/<username>/tokens", methods=["POST"])
@roles_required("admin")
def create_token(username: str):
    user = _user_or_404(username)
    form = TokenForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        token = issue_token(user, form.label.data, actor=_actor())
    except AccountError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.user_detail", username=user.username))
    return render_template("admin/token_shown.html", user=user, token=token)


@bp.route("/tokens")
@roles_required("admin")
def tokens():
    show = request.args.get("show", "live")
    query = select(ApiToken).order_by(ApiToken.created_at.desc())
    if show != "all":
        query = query.where(ApiToken.revoked_at.is_(None))
    page = db.paginate(query, page=int_arg("page", 1, 1, MAX_PAGE), per_page=PER_PAGE, error_out=False)
    return render_template("admin/tokens.html", page=page, show=show, confirm=ConfirmForm())


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required("admin")
def revoke(token_id: int):
    token = db.get_or_404(ApiToken, token_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    revoke_token(token, _actor())
    flash(_("Token %(prefix)s… is revoked.", prefix=token.prefix), "success")
    back = request.form.get("back")
    if back == "user":
        return redirect(url_for("admin.user_detail", username=token.user.username))
    return redirect(url_for("admin.tokens"))


# --- CSV import -----------------------------------------------------------------------------

CSV_TEMPLATE = (
    "username,name,outlet,password,start_date,locale\r\n"
    "zhang.wei,张伟,GD-GZ-01,,2026-03-02,zh_CN\r\n"
)


@bp.route("/import", methods=["GET", "POST"])
@roles_required("admin")
def import_users():
    form = ImportForm()
    result = None
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read()
        result = import_technicians(data, actor=_actor())
        status = 200 if result.ok else 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/import.html", form=form, result=result), status


@bp.route("/import/template.csv")
@roles_required("admin")
def import_template():
    body = "\ufeff" + CSV_TEMPLATE  # BOM: Excel then opens the Chinese correctly
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=technicians-template.csv"})


# --- the service network -------------------------------------------------------------------------

PLACES = {
    "region": (Region, RegionForm),
    "province": (Province, ProvinceForm),
    "outlet": (Outlet, OutletForm),
}


@bp.route("/network")
@roles_required("admin")
def network_view():
    return render_template("admin/network.html", tree=network.network_tree(), confirm=ConfirmForm())


def _place_form(kind: str, obj):
    model, form_class = PLACES[kind]
    form = form_class(obj=obj if request.method == "GET" else None)
    if kind == "province":
        form.region.choices = [(r.id, f"{r.code} · {r.name}")
                               for r in db.session.scalars(select(Region).order_by(Region.code))]
        if request.method == "GET" and obj is not None:
            form.region.data = obj.region_id
    if kind == "outlet":
        form.province.choices = [(p.id, f"{p.code} · {p.name}")
                                 for p in db.session.scalars(select(Province).order_by(Province.code))]
        if request.method == "GET" and obj is not None:
            form.province.data = obj.province_id
        form.products.choices = [(p, product_label(p)) for p in PRODUCTS]
    return form


@bp.route("/network/<kind>/new", methods=["GET", "POST"])
@bp.route("/network/<kind>/<int:place_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def edit_place(kind: str, place_id: int | None = None):
    if kind not in PLACES:
        abort(404)
    model, _form_class = PLACES[kind]
    obj = db.get_or_404(model, place_id) if place_id is not None else None
    form = _place_form(kind, obj)
    if form.validate_on_submit():
        links = {}
        if kind == "province":
            links["region_id"] = form.region.data
        if kind == "outlet":
            links["province_id"] = form.province.data
            links["city"] = form.city.data or ""
            links["products"] = list(form.products.data or [])
        try:
            network.save_place(model, obj, code=form.code.data, name_zh=form.name_zh.data,
                               name_en=form.name_en.data, **links)
        except AccountError as exc:
            _add_error(form, exc, "code")
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.network_view"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/place_form.html", form=form, kind=kind, obj=obj), status


@bp.route("/network/<kind>/<int:place_id>/delete", methods=["POST"])
@roles_required("admin")
def delete_place(kind: str, place_id: int):
    if kind not in PLACES:
        abort(404)
    obj = db.get_or_404(PLACES[kind][0], place_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        network.delete_place(obj)
    except AccountError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Deleted."), "success")
    return redirect(url_for("admin.network_view"))
