// A list read page by page as the server cuts them (pageToken), with a
// search: the Leads list and the Customers list. The tokens of the pages up
// to the one shown are kept, so Previous page asks for the same page again.
import { useSignal, type Signal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { errorText } from "../api";

const FIRST: readonly string[] = [""];  // one array: an effect's dependency

export type Paging = {
    typed: Signal<string>;      // the search as typed
    searched: Signal<string>;   // as last asked for
    tokens: readonly string[];  // a dependency: a new array whenever a page is to be read
    page: number;               // 0 for the first
    token: string;              // the page to read
    next: Signal<string>;       // the server's token for the page after, "" at the end
    search: (ev: Event) => void;
    go: (by: 1 | -1) => void;
};

// scope: what the pages are of (the Leads list's type); pages of another
// scope start again at the first
export function usePaging(scope = ""): Paging {
    const typed = useSignal("");
    const searched = useSignal("");
    const next = useSignal("");
    const paged = useSignal<{ scope: string; tokens: readonly string[] }>({ scope, tokens: FIRST });
    const tokens = paged.value.scope === scope ? paged.value.tokens : FIRST;
    const page = tokens.length - 1;
    return {
        typed, searched, tokens, page, token: tokens[page], next,
        search(ev) {
            ev.preventDefault();
            searched.value = typed.value.trim();
            // a new array: the same search asked again reads again
            paged.value = { scope, tokens: [""] };
        },
        go(by) {
            paged.value = { scope, tokens: by > 0 ? [...tokens, next.value] : tokens.slice(0, -1) };
        },
    };
}

type SearchProps = { id: string; paging: Paging; placeholder: string };

export function SearchForm({ id, paging, placeholder }: SearchProps) {
    return (
        <form role="search" class="leads-search" onSubmit={paging.search}>
            <label for={id}>Search</label>
            <input id={id} type="search" value={paging.typed.value} placeholder={placeholder}
                onInput={(e) => (paging.typed.value = e.currentTarget.value)} />
            <button type="submit">Search</button>
        </form>
    );
}

// loading: while a page is read, Next page waits for its token
export function Pager({ paging, loading }: { paging: Paging; loading: boolean }) {
    return (
        <nav class="leads-pages" aria-label="Pages">
            <button type="button" disabled={paging.page === 0} onClick={() => paging.go(-1)}>Previous page</button>
            <span>Page {paging.page + 1}</span>
            <button type="button" disabled={!paging.next.value || loading} onClick={() => paging.go(1)}>Next page</button>
        </nav>
    );
}

// What a search box finds as the person types: one call per pause in
// typing, not per key, and a reply for an older text dropped. found is null
// until the first reply; error is the server's words.
export function useFound<T>(text: string, find: (text: string) => Promise<T[]>): { found: Signal<T[] | null>; error: Signal<string> } {
    const found = useSignal<T[] | null>(null);
    const error = useSignal("");
    useEffect(() => {
        let stale = false;
        const timer = setTimeout(async () => {
            try {
                const got = await find(text);
                if (stale) return;
                found.value = got;
                error.value = "";
            } catch (e) {
                if (!stale) error.value = errorText(e);
            }
        }, text ? 250 : 0);
        return () => {
            stale = true;
            clearTimeout(timer);
        };
    }, [text]);
    return { found, error };
}
