// Where the app is: the path of the address bar as a signal. Screens are
// plain paths (/pipeline, /leads/12) that the gateway answers with the app,
// so a link can be opened, bookmarked and reloaded.
import { signal } from "@preact/signals";

export const path = signal(location.pathname);
// The query string ("?type=opportunity"), its own signal: a link that changes
// only the query (the top bar's Leads from /leads?type=opportunity) leaves
// the path as it was, and a screen that reads the query must still follow.
export const search = signal(location.search);

function follow(): void {
    path.value = location.pathname;
    search.value = location.search;
}

addEventListener("popstate", follow);

export function navigate(to: string, replace = false): void {
    if (to === location.pathname + location.search) return;
    if (replace) history.replaceState(null, "", to);
    else history.pushState(null, "", to);
    follow();
    // a new screen starts at its top, as a page load would
    scrollTo(0, 0);
}

// The parts of a path that match a pattern such as "/leads/:id", or null.
export function match(pattern: string, at: string): Record<string, string> | null {
    const want = pattern.split("/").filter(Boolean);
    const got = at.split("/").filter(Boolean);
    if (want.length !== got.length) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < want.length; i++) {
        if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
        else if (want[i] !== got[i]) return null;
    }
    return params;
}

// A link that moves within the app without loading the page again; a
// modified click (new tab, new window) is left to the browser.
export function onLinkClick(ev: MouseEvent): void {
    const a = (ev.target as Element).closest("a");
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const href = a.getAttribute("href");
    if (!href || !href.startsWith("/") || href.startsWith("//") || a.target || a.hasAttribute("download")) return;
    if (href.startsWith("/twirp/") || href.startsWith("/v1/")) return;
    ev.preventDefault();
    navigate(href);
}
