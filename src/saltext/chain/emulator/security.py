"""Authentication, sessions and CSRF crumbs, as Jenkins' default security setup answers.

* Basic auth with the user's API token (``jenkins/security/BasicHeaderApiTokenAuthenticator.java``)
  is **crumb-exempt** (``jenkins/security/ApiCrumbExclusion.java``).
* Basic auth with the user's password (``BasicHeaderRealPasswordAuthenticator``) and session cookies
  are not: a POST needs the crumb (``hudson/security/csrf/CrumbFilter.java``: 403 "No valid crumb
  was included in the request"; header or form field ``Jenkins-Crumb``).
* A wrong token/password -> 401 + ``WWW-Authenticate: Basic realm="Jenkins"``
  (``jenkins/security/BasicHeaderProcessor.java`` -> Spring ``BasicAuthenticationEntryPoint``).
* Anonymous -> 403 with the ``X-Jenkins`` headers and a login redirect page
  (``hudson/security/HudsonAuthenticationEntryPoint.java``).
* The crumb is a digest of ``user;sessionId`` salted with an instance secret
  (``hudson/security/csrf/DefaultCrumbIssuer.java``), so it is bound to the session cookie.
"""

import base64
import hashlib
import hmac
import secrets
import time

CRUMB_FIELD = "Jenkins-Crumb"


def decode_basic(header):
    """``user:password`` of a Basic ``Authorization`` header, as ``BasicHeaderProcessor.doFilter``
    (2.568.2) reads it: strict Base64 (``Base64.getDecoder()``; malformed -> ``""``), bytes read
    as UTF-8 with replacement characters (``new String(..., UTF_8)`` never fails)."""
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except ValueError:
        return ""
    return raw.decode("utf-8", "replace")


class Security:
    def __init__(self, admin_user, admin_token, admin_password, salt, cookie_name):
        self.admin_user = admin_user
        self.admin_token = admin_token
        self.admin_password = admin_password
        self.salt = salt
        self.cookie_name = cookie_name
        self.sessions = {}  # session id -> [user id, last use (monotonic)]
        self.session_timeout = 1800.0  # Jetty's default HTTP session timeout: 30 minutes

    # -------------------------------------------------------------- authentication
    def check_basic(self, header):
        """Return ``(user, via)`` for a Basic header, ``(None, 'bad')`` when it is wrong."""
        decoded = decode_basic(header)
        if ":" not in decoded:
            return None, "bad"
        user, password = decoded.split(":", 1)
        if user == self.admin_user:
            # compared as UTF-8 bytes: compare_digest refuses str with non-ASCII characters
            given = password.encode("utf-8")
            if self.admin_token and hmac.compare_digest(given, self.admin_token.encode("utf-8")):
                return user, "token"
            if self.admin_password and hmac.compare_digest(
                given, self.admin_password.encode("utf-8")
            ):
                return user, "password"
        return None, "bad"

    def session_user(self, session_id):
        entry = self.sessions.get(session_id) if session_id else None
        if entry is None:
            return None
        now = time.monotonic()
        if now - entry[1] > self.session_timeout:
            del self.sessions[session_id]
            return None
        entry[1] = now
        return entry[0]

    def new_session(self, user):
        now = time.monotonic()
        for sid in [k for k, v in self.sessions.items() if now - v[1] > self.session_timeout]:
            del self.sessions[sid]
        sid = "node0" + secrets.token_hex(12)
        self.sessions[sid] = [user, now]
        return sid

    # -------------------------------------------------------------- crumbs
    def crumb(self, user, session_id):
        digest = hashlib.sha256()
        digest.update(f"{user};{session_id}".encode())
        digest.update(self.salt)
        return digest.hexdigest()

    def valid_crumb(self, user, session_id, value):
        if not value or not session_id:
            return False
        return hmac.compare_digest(self.crumb(user, session_id), value)
