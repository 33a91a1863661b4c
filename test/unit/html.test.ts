import test from "ava";
import { escapeHtml, html, SafeHtml } from "../../gateway/html.js";

test("escapeHtml escapes every character that matters in text and attributes", (t) => {
  t.is(escapeHtml(`<script>"'&\``), "&lt;script&gt;&quot;&#39;&amp;&#96;");
});

test("escapeHtml leaves other text alone", (t) => {
  t.is(escapeHtml("plain text, é and 😀 = fine"), "plain text, é and 😀 = fine");
  t.is(escapeHtml(""), "");
});

test("escapeHtml escapes an ampersand of an existing entity again", (t) => {
  t.is(escapeHtml("&amp;"), "&amp;amp;");
});

test("html escapes interpolated strings", (t) => {
  const name = `<img src=x onerror="alert('x')">`;
  t.is(html`<p title="${name}">${name}</p>`.value, `<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;</p>`);
});

test("html renders numbers", (t) => {
  t.is(html`<td>${42}</td><td>${0}</td>`.value, "<td>42</td><td>0</td>");
});

test("html keeps the literal parts as written", (t) => {
  t.is(html`<a href="/x?a=1&b=2">x</a>`.value, `<a href="/x?a=1&b=2">x</a>`);
});

test("html does not escape a nested html result again", (t) => {
  const inner = html`<b>${"a&b"}</b>`;
  t.is(html`<p>${inner}</p>`.value, "<p><b>a&amp;b</b></p>");
});

test("html renders arrays, escaping strings and keeping nested html", (t) => {
  const items = ["<x>", "y"].map((s) => html`<li>${s}</li>`);
  t.is(html`<ul>${items}</ul>`.value, "<ul><li>&lt;x&gt;</li><li>y</li></ul>");
  t.is(html`${["<a>", 1, html`<br>`, ["&"]]}`.value, "&lt;a&gt;1<br>&amp;");
  t.is(html`<ul>${[]}</ul>`.value, "<ul></ul>");
});

test("html skips undefined, null and false", (t) => {
  const flag = false;
  t.is(html`<p>${undefined}|${null}|${flag}|${flag && "shown"}</p>`.value, "<p>|||</p>");
  t.is(html`${[undefined, "a", false, null]}`.value, "a");
});

test("html renders the empty string as nothing", (t) => {
  t.is(html`<p>${""}</p>`.value, "<p></p>");
});

test("the result of html is SafeHtml whose string is its value", (t) => {
  const page = html`<p>${"x"}</p>`;
  t.true(page instanceof SafeHtml);
  t.is(String(page), "<p>x</p>");
  t.is(`${page}`, "<p>x</p>");
});

test("a SafeHtml made by hand is trusted as is", (t) => {
  t.is(html`<div>${new SafeHtml("<hr>")}</div>`.value, "<div><hr></div>");
});
