#!/usr/bin/env python3
"""Signs in to the kind cluster's Keycloak as the web app does, and prints
the access token.

    sign-in.py ORIGIN USERNAME PASSWORD

ORIGIN is the edge router's URL as a browser reaches it (e.g.
http://edge-router.task-app.127.0.0.1.sslip.io:8088); requests go to Kourier
on 127.0.0.1:8088 with that Host, so no DNS is needed. The flow is the web
app's: the public client task-web, authorization code with PKCE (S256),
Keycloak's sign-in form, the code exchanged at the token endpoint. The token
is then held to the claim contract the functions check (typ at+jwt, ES256 or
RS256, iss the issuer, aud task-api, sub, roles, at most 5 minutes), so a
realm that drifts fails here with a reason rather than as a 401 later.
"""

import base64
import hashlib
import html
import http.client
import json
import re
import secrets
import sys
import urllib.parse

GATEWAY = ("127.0.0.1", 8088)
REALM_PATH = "/oidc/realms/task-app"
CLIENT_ID = "task-web"


def fail(message):
    sys.exit(f"sign-in: {message}")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Browser:
    """Just enough of one: the Host header, and the cookies Keycloak sets."""

    def __init__(self, origin):
        self.origin = origin
        self.host = urllib.parse.urlsplit(origin).netloc
        self.cookies = {}

    def request(self, method, url, form=None):
        parts = urllib.parse.urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            fail(f"Keycloak sent us to {url}, not to {self.origin}: are its proxy headers honoured?")
        headers = {"Host": self.host}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(form)
        connection = http.client.HTTPConnection(*GATEWAY, timeout=30)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie, _, attributes = value.partition(";")
                key, _, val = cookie.partition("=")
                if val and "max-age=0" not in attributes.lower():
                    self.cookies[key.strip()] = val
                else:
                    self.cookies.pop(key.strip(), None)
        return response.status, response.headers, data


def main():
    if len(sys.argv) != 4:
        fail(__doc__.splitlines()[3].strip())
    origin, username, password = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    issuer = origin + REALM_PATH
    browser = Browser(origin)

    status, _, body = browser.request("GET", issuer + "/.well-known/openid-configuration")
    if status != 200:
        fail(f"no discovery document at {issuer} ({status})")
    discovery = json.loads(body)
    if discovery.get("issuer") != issuer:
        fail(f"Keycloak names itself {discovery.get('issuer')}, the functions trust {issuer}")

    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    state = b64url(secrets.token_bytes(16))
    redirect_uri = origin + "/"
    query = urllib.parse.urlencode({
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    })
    status, headers, body = browser.request("GET", f"{discovery['authorization_endpoint']}?{query}")
    if status != 200:
        fail(f"the authorization endpoint answered {status}: {body[:300]!r}")
    # The edge router's own page policy must not ride along: it forbids
    # forms and inline scripts, so a browser could not sign in.
    for policy in headers.get_all("Content-Security-Policy") or []:
        if "form-action 'none'" in policy:
            fail("the sign-in page carries the web app's Content-Security-Policy (form-action 'none'): "
                 "a browser could not submit it; the edge router's /oidc/ location must not inherit "
                 "the server's add_header lines")
    page = body.decode()
    form = next((tag for tag in re.findall(r"<form\b[^>]*>", page) if "kc-form-login" in tag), None)
    action = form and re.search(r'action="([^"]+)"', form)
    if not action:
        fail("no sign-in form on Keycloak's page")
    status, headers, body = browser.request(
        "POST", html.unescape(action.group(1)),
        {"username": username, "password": password, "credentialId": ""},
    )
    location = headers.get("Location", "")
    if status not in (302, 303) or not location.startswith(redirect_uri):
        fail(f"{username} was not signed in ({status}; wrong password, or a required action?)")
    answer = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    if answer.get("state") != [state] or "code" not in answer:
        fail(f"the redirect carries no code for this state: {location}")

    status, _, body = browser.request("POST", discovery["token_endpoint"], {
        "grant_type": "authorization_code",
        "code": answer["code"][0],
        "redirect_uri": redirect_uri,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
    })
    if status != 200:
        fail(f"the token endpoint answered {status}: {body[:300]!r}")
    token = json.loads(body)["access_token"]

    header_part, payload_part, _ = token.split(".")
    header, claims = b64url_json(header_part), b64url_json(payload_part)
    audience = claims.get("aud")
    audience = audience if isinstance(audience, list) else [audience]
    problems = [
        problem for problem, wrong in [
            (f"typ {header.get('typ')}, not at+jwt", str(header.get("typ")).lower() not in ("at+jwt", "application/at+jwt")),
            (f"alg {header.get('alg')}, not ES256 or RS256", header.get("alg") not in ("ES256", "RS256")),
            (f"iss {claims.get('iss')}, not {issuer}", claims.get("iss") != issuer),
            (f"aud {audience} lacks task-api", "task-api" not in audience),
            ("no sub", not claims.get("sub")),
            (f"roles {claims.get('roles')!r} is not a list", not isinstance(claims.get("roles", []), list)),
            (f"lives {claims.get('exp', 0) - claims.get('iat', 0)} s, more than 300",
             claims.get("exp", 0) - claims.get("iat", 0) > 300),
        ] if wrong
    ]
    if problems:
        fail(f"{username}'s access token breaks the claim contract: " + "; ".join(problems))
    print(token)


if __name__ == "__main__":
    main()
