"""Security: X-Jenkins headers, anonymous 403, wrong token 401, crumbs and their exemptions."""

import jenkins
import pytest
import requests

CRUMB_ERROR = "No valid crumb was included in the request"


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/security/HudsonAuthenticationEntryPoint.java commence"
)
def test_root_advertises_version_even_to_anonymous(target):
    resp = requests.get(target.url, timeout=10)
    # HudsonAuthenticationEntryPoint: 403 (not 401) + Functions.advertiseHeaders
    assert resp.status_code == 403
    assert resp.headers["X-Jenkins"]
    assert resp.headers["X-Hudson"]
    assert resp.headers["X-Jenkins-Session"]
    assert "Authentication required" in resp.text


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/security/AccessDeniedException3.java reportAsHeaders"
)
def test_anonymous_api_is_forbidden(target):
    resp = requests.get(target.url + "api/json", timeout=10)
    assert resp.status_code == 403
    assert "X-Jenkins" in resp.headers
    assert resp.headers.get("X-You-Are-Authenticated-As") == "anonymous"


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/security/HudsonAuthenticationEntryPoint.java commence"
)
def test_get_version_as_first_call_fails_on_secured_controller(target):
    # python-jenkins' get_version bypasses auth resolution when it is the first call
    server = target.client()
    with pytest.raises(jenkins.BadHTTPException):
        server.get_version()


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/Functions.java advertiseHeaders")
def test_version_after_auth(server):
    assert server.get_whoami()["id"]
    assert server.get_version()


@pytest.mark.jenkins(
    "2.568.2",
    "core/src/main/java/jenkins/model/Jenkins.java getMe; "
    "core/src/main/java/hudson/model/User.java",
)
def test_whoami(server, target):
    me = server.get_whoami()
    assert me["_class"] == "hudson.model.User"
    assert me["id"] == target.user
    assert me["absoluteUrl"].endswith(f"/user/{target.user}")


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/jenkins/security/BasicHeaderProcessor.java doFilter/fail"
)
def test_wrong_token_is_401(target):
    resp = requests.get(target.url + "api/json", auth=(target.user, "not-the-token"), timeout=10)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Jenkins"'
    server = jenkins.Jenkins(target.url, target.user, "not-the-token", timeout=10)
    with pytest.raises(jenkins.JenkinsException, match=r"\[401\]"):
        server.get_whoami()


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/security/csrf/DefaultCrumbIssuer.java")
def test_crumb_issuer(http, target):
    resp = http.get(target.url + "crumbIssuer/api/json", timeout=10)
    assert resp.status_code == 200
    data = resp.json()
    assert data["_class"] == "hudson.security.csrf.DefaultCrumbIssuer"
    assert data["crumbRequestField"] == "Jenkins-Crumb"
    assert len(data["crumb"]) == 64
    assert any(c.name.startswith("JSESSIONID") for c in http.cookies)


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/jenkins/security/ApiCrumbExclusion.java process"
)
def test_api_token_post_is_crumb_exempt(http, target, name, cleanup):
    cleanup[0].append(name)
    resp = http.post(
        target.url + f"createItem?name={name}",
        data=b"<project/>",
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert resp.status_code == 200


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/security/csrf/CrumbFilter.java doFilter")
@pytest.mark.emulator_only
def test_password_auth_needs_crumb_bound_to_session(target, name, cleanup):
    cleanup[0].append(name)
    sess = requests.Session()
    sess.auth = (target.user, target.password)
    url = target.url + f"createItem?name={name}"
    headers = {"Content-Type": "application/xml"}
    resp = sess.post(url, data=b"<project/>", headers=headers, timeout=10)
    assert resp.status_code == 403
    assert CRUMB_ERROR in resp.text
    crumb = sess.get(target.url + "crumbIssuer/api/json", timeout=10).json()
    # a crumb from another session is not valid for this one
    other = requests.Session()
    other.auth = (target.user, target.password)
    other_crumb = other.get(target.url + "crumbIssuer/api/json", timeout=10).json()["crumb"]
    assert other_crumb != crumb["crumb"]
    resp = sess.post(
        url, data=b"<project/>", headers={**headers, "Jenkins-Crumb": other_crumb}, timeout=10
    )
    assert resp.status_code == 403
    resp = sess.post(
        url, data=b"<project/>", headers={**headers, "Jenkins-Crumb": crumb["crumb"]}, timeout=10
    )
    assert resp.status_code == 200


@pytest.mark.jenkins(
    "2.568.2", "core/src/main/java/hudson/security/csrf/CrumbFilter.java extractCrumbFromRequest"
)
@pytest.mark.emulator_only
def test_crumb_as_form_field(target, name, cleanup):
    server = target.client()
    server.create_job(name, "<project/>")
    cleanup[0].append(name)
    sess = requests.Session()
    sess.auth = (target.user, target.password)
    crumb = sess.get(target.url + "crumbIssuer/api/json", timeout=10).json()["crumb"]
    resp = sess.post(
        target.url + f"job/{name}/disable",
        data={"Jenkins-Crumb": crumb},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302
    assert server.get_job_info(name)["disabled"] is True


@pytest.mark.jenkins("2.568.2", "core/src/main/java/hudson/security/csrf/CrumbFilter.java doFilter")
@pytest.mark.emulator_only
def test_python_jenkins_with_password_uses_crumbs(target, name, cleanup):
    server = jenkins.Jenkins(target.url, target.user, target.password, timeout=10)
    server.create_job(name, "<project/>")
    cleanup[0].append(name)
    server.disable_job(name)
    assert server.get_job_info(name)["color"] == "disabled"


@pytest.mark.emulator_only
def test_request_log_records_every_request_without_secrets(target):
    from saltext.chain.emulator.testing import request_log

    before = len(request_log(target.home))
    requests.get(target.url + "api/json", auth=(target.user, target.token), timeout=10)
    requests.post(
        target.url + "job/nope/build?token=s3cr3t-build-token",
        auth=(target.user, target.token),
        timeout=10,
        allow_redirects=False,
    )
    requests.get(target.url + "api/json", timeout=10)
    entries = request_log(target.home)[before:]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/api/json", 200),
        ("POST", "/job/nope/build", 404),
        ("GET", "/api/json", 403),
    ]
    assert entries[0]["user"] == target.user and entries[2]["user"] is None
    assert entries[1]["query"] == {"token": "***"}
    assert "s3cr3t" not in open(f"{target.home}/logs/requests.log").read()
