// The sign-in page: our own, small and accessible (labelled fields, the
// problem announced to screen readers), with no script and no inline style,
// so the edge router's Content-Security-Policy holds for it too.

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

/**
 * The page asking for a username and password. `action` is where the form
 * posts; `problem`, when set, says why the last try failed.
 */
export function loginPage({ action, username = '', problem = null }) {
  const alert = problem
    ? `<p class="problem" role="alert" id="problem">${escapeHtml(problem)}</p>`
    : '';
  const described = problem ? ' aria-describedby="problem" aria-invalid="true"' : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Tasks</title>
<link rel="stylesheet" href="login.css">
</head>
<body>
<main>
<h1>Sign in to Tasks</h1>
${alert}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(username)}"${problem ? '' : ' autofocus'}${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${problem ? ' autofocus' : ''}${described}>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
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
:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
.problem { padding: .6rem; border-left: 4px solid #b3261e; background: color-mix(in srgb, #b3261e 12%, transparent); }
`;
