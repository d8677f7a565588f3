// The sign-in page: our own, small and accessible (labelled fields, the
// problem announced to screen readers), with no script and no inline style,
// so the edge router's Content-Security-Policy holds for it too.

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

/** A page of ours: the title, and the body's HTML. */
function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Tasks</title>
<link rel="stylesheet" href="/oidc/login.css">
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/**
 * The page asking whether to sign out (`form` is the provider's hidden form,
 * with its anti-forgery token): a person confirms, so that no other site can
 * sign them out.
 */
export function signOutPage(form) {
  return page('Sign out', `<h1>Sign out of Tasks?</h1>
${form}
<div class="actions">
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>
</div>`);
}

/** After signing out, when the app named no page to go back to. */
export function signedOutPage() {
  return page('Signed out', '<h1>You are signed out</h1>\n<p>Close this window, or open the app to sign in again.</p>');
}

/**
 * The page asking for a username and password. `action` is where the form
 * posts; `problem`, when set, says why the last try failed.
 */
export function loginPage({ action, username = '', problem = null }) {
  const alert = problem
    ? `<p class="problem" role="alert" id="problem">${escapeHtml(problem)}</p>`
    : '';
  const described = problem ? ' aria-describedby="problem" aria-invalid="true"' : '';
  return page('Sign in', `<h1>Sign in to Tasks</h1>
${alert}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(username)}"${problem ? '' : ' autofocus'}${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${problem ? ' autofocus' : ''}${described}>
<button type="submit">Sign in</button>
</form>`);
}

/** The page's stylesheet (served beside it: the CSP allows no inline style). */
export const LOGIN_CSS = `:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; display: grid; place-items: center; min-height: 100vh; }
main { width: min(22rem, 90vw); }
h1 { font-size: 1.4rem; }
form { display: grid; gap: .4rem; }
label { font-weight: 600; margin-top: .6rem; }
input { font: inherit; padding: .5rem; border: 1px solid #767676; border-radius: 4px; }
button { font: inherit; margin-top: 1rem; padding: .6rem; border: 0; border-radius: 4px; background: #1a56c4; color: #fff; cursor: pointer; }
button.secondary { background: transparent; color: inherit; border: 1px solid #767676; }
.actions { display: flex; gap: .6rem; }
.actions button { flex: 1; }
:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
.problem { padding: .6rem; border-left: 4px solid #b3261e; background: color-mix(in srgb, #b3261e 12%, transparent); }
`;
