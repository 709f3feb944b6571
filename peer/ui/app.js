// Placeholder web UI (the real one replaces this file): shows who is logged in.
const main = document.getElementById("app");
const res = await fetch("/api/v1/session");
const body = await res.json();
main.textContent = body.logged_in ? `Logged in as ${body.user}` : "Not logged in";
