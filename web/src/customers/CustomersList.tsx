// Customers: companies and the contacts who work for them, with a search on
// name and email and pages as the server cuts them. A page is shown sorted
// by name as the user's language sorts (Chinese names included).
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ArchiveFilter, type Customer } from "../../gen/pipeline";
import { ArchiveFilterSelect } from "../archive/ArchiveFilterSelect";
import { errorText, isUnauthenticated, pipeline } from "../api";
import { byName } from "../format";
import { customerNames, loadCustomerNames, loadUserNames, userNames } from "../names";
import { currentUser } from "../session";
import { Pager, SearchForm, usePaging } from "../ui/list";
import { ImportModel } from "../../gen/pipeline";
import { TransferTools } from "../transfer/TransferTools";

const PAGE_SIZE = 20;

export function CustomersList() {
    const archived = useSignal(ArchiveFilter.ACTIVE);
    const paging = usePaging(String(archived.value));
    const customers = useSignal<Customer[] | null>(null);
    const error = useSignal("");

    useEffect(() => {
        let stale = false;
        customers.value = null;
        error.value = "";
        pipeline.listCustomers({
            query: paging.searched.value, parentId: "0", pageSize: PAGE_SIZE, pageToken: paging.token, archived: archived.value,
        })
            .then(({ response }) => {
                if (stale) return;
                customers.value = [...response.customers].sort(byName);
                paging.next.value = response.nextPageToken;
                void loadCustomerNames(response.customers.map((c) => c.parentId));
            })
            .catch((e) => {
                if (isUnauthenticated(e)) currentUser.value = "signed-out";
                else if (!stale) error.value = errorText(e);
            });
        return () => void (stale = true);
    }, [paging.searched.value, paging.tokens, archived.value]);

    useEffect(() => void loadUserNames().catch((e) => (error.value = errorText(e))), []);

    return (
        <section class="customers-list" aria-labelledby="customers-title">
            <div class="leads-head">
                <h1 id="customers-title">Customers</h1>
                <a class="leads-new" href="/customers/new">New</a>
            </div>
            <TransferTools model={ImportModel.CUSTOMER} what="customers" file="customers.csv"
                onImported={() => paging.search(new Event("submit"))} />
            <div class="leads-tools">
                <SearchForm id="customers-query" paging={paging} placeholder="Name or email" />
                <ArchiveFilterSelect id="customers-archived" value={archived.value} onChange={(v) => (archived.value = v)} />
            </div>
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {customers.value === null ? <p role="status">Loading…</p> : customers.value.length === 0 ? (
                <p role="status">{paging.searched.value ? `No customer matches “${paging.searched.value}”.` : "There are no customers yet."}</p>
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
                                    <th scope="row"><a href={`/customers/${c.id}`}>{c.name}</a>{c.archived && " (archived)"}</th>
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
            <Pager paging={paging} loading={customers.value === null} />
        </section>
    );
}
