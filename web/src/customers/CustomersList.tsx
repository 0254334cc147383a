// Customers: companies and the contacts who work for them, with a search on
// name and email and pages as the server cuts them. A page is shown sorted
// by name as the user's language sorts (Chinese names included).
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Customer } from "../../gen/pipeline";
import { errorText, isUnauthenticated, pipeline } from "../api";
import { byName } from "../leads/labels";
import { customerNames, loadCustomerNames, loadUserNames, userNames } from "../names";
import { currentUser } from "../session";

const PAGE_SIZE = 20;

export function CustomersList() {
    const query = useSignal("");
    const searched = useSignal("");
    const tokens = useSignal<string[]>([""]);
    const customers = useSignal<Customer[] | null>(null);
    const next = useSignal("");
    const error = useSignal("");
    const page = tokens.value.length - 1;

    useEffect(() => {
        let stale = false;
        customers.value = null;
        error.value = "";
        pipeline.listCustomers({ query: searched.value, parentId: "0", pageSize: PAGE_SIZE, pageToken: tokens.value[page] })
            .then(({ response }) => {
                if (stale) return;
                customers.value = [...response.customers].sort(byName);
                next.value = response.nextPageToken;
                void loadCustomerNames(response.customers.map((c) => c.parentId));
            })
            .catch((e) => {
                if (isUnauthenticated(e)) currentUser.value = "signed-out";
                else if (!stale) error.value = errorText(e);
            });
        return () => void (stale = true);
    }, [searched.value, tokens.value]);

    useEffect(() => void loadUserNames().catch((e) => (error.value = errorText(e))), []);

    function search(ev: Event) {
        ev.preventDefault();
        searched.value = query.value.trim();
        tokens.value = [""];
    }

    return (
        <section class="customers-list" aria-labelledby="customers-title">
            <div class="leads-head">
                <h1 id="customers-title">Customers</h1>
                <a class="leads-new" href="/customers/new">New</a>
            </div>
            <form role="search" class="leads-search" onSubmit={search}>
                <label for="customers-query">Search</label>
                <input id="customers-query" type="search" value={query.value} placeholder="Name or email"
                    onInput={(e) => (query.value = e.currentTarget.value)} />
                <button type="submit">Search</button>
            </form>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {customers.value === null ? <p role="status">Loading…</p> : customers.value.length === 0 ? (
                <p role="status">{searched.value ? `No customer matches “${searched.value}”.` : "There are no customers yet."}</p>
            ) : (
                <div class="leads-scroll" role="region" aria-label="List of customers" tabIndex={0}>
                    <table class="leads-table">
                        <thead>
                            <tr>
                                <th scope="col">Name</th>
                                <th scope="col">Company</th>
                                <th scope="col">Function</th>
                                <th scope="col">Email</th>
                                <th scope="col">Phone</th>
                                <th scope="col">City</th>
                                <th scope="col">Salesperson</th>
                            </tr>
                        </thead>
                        <tbody>
                            {customers.value.map((c) => (
                                <tr key={c.id}>
                                    <th scope="row"><a href={`/customers/${c.id}`}>{c.name}</a></th>
                                    <td>{c.isCompany ? "Company" : c.parentId !== "0"
                                        ? <a href={`/customers/${c.parentId}`}>{customerNames.value.get(c.parentId) ?? "its company"}</a> : ""}</td>
                                    <td>{c.function}</td>
                                    <td>{c.email}</td>
                                    <td>{c.phone}</td>
                                    <td>{c.city}</td>
                                    <td>{c.salespersonId !== "0" ? userNames.value.get(c.salespersonId) ?? "" : ""}</td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </div>
            )}
            <nav class="leads-pages" aria-label="Pages">
                <button type="button" disabled={page === 0} onClick={() => (tokens.value = tokens.value.slice(0, -1))}>Previous page</button>
                <span>Page {page + 1}</span>
                <button type="button" disabled={!next.value || customers.value === null}
                    onClick={() => (tokens.value = [...tokens.value, next.value])}>Next page</button>
            </nav>
        </section>
    );
}
