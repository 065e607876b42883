// The login form: an admin-scope API key in, a session cookie out (see security.ts).
import { html } from "./html";

export const loginPage = (next: string) => html`<div class="login card">
<h1>Log in</h1>
<p class="muted">Paste an API key with the admin scope. The page shows only that key's tenant.</p>
<form class="stack" method="post" action="/admin/login">
<input type="hidden" name="next" value="${next}">
<label>Admin key <input type="password" name="key" autocomplete="off" required placeholder="kw_…"></label>
<button type="submit">Log in</button>
</form>
</div>`;
