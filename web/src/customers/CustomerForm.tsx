// A customer (walkthrough 3): a company or a contact who works for one, its
// salesperson and sales team, the contacts of a company, and the customer's
// opportunities and leads, from which a new one can be started with the
// customer filled in. Save sends the changed fields only. The chatter is
// beside it. An own-leads user may change only their own and unassigned
// customers (the API's rule), so another's is shown without the controls.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Team, User } from "../../gen/identity";
import { CreateCustomerRequest, Customer, UpdateCustomerRequest, type Lead } from "../../gen/pipeline";
import { seesAllLeads } from "../access";
import { errorText, isUnauthenticated, pipeline } from "../api";
import { Chatter } from "../chatter/Chatter";
import { byName, formatMoney } from "../format";
import { changedFields, isOpportunity, maskPath, statusLabel } from "../leads/labels";
import { loadSalespeople, loadTeams } from "../leads/lookups";
import { navigate } from "../router";
import { currentUser } from "../session";
import { Field, FormAlert, failure, type FormError } from "../ui/form";
import { SalespersonSelect, TeamSelect } from "../ui/people";
import { loadUserNames, userNames } from "../names";
import { CustomerSelect } from "./CustomerSelect";

const FIELDS = [
    "name", "isCompany", "parentId", "function", "email", "phone", "street", "city", "country", "salespersonId", "teamId",
] as const satisfies readonly (keyof Customer)[];

function blankCustomer(user: User): Customer {
    const parent = new URLSearchParams(location.search).get("parent") ?? "";
    return Customer.create({
        isCompany: !/^\d+$/.test(parent),
        parentId: /^\d+$/.test(parent) ? parent : "0",
        salespersonId: user.id,
        teamId: user.teamIds[0] ?? "0",
    });
}

export function CustomerForm({ user, id }: { user: User; id: string }) {
    const isNew = id === "new";
    const saved = useSignal<Customer | null>(null);
    const draft = useSignal<Customer | null>(null);
    const loadError = useSignal("");
    const error = useSignal<FormError>(null);
    const notice = useSignal("");
    const busy = useSignal(false);
    const people = useSignal<User[]>([]);
    const teams = useSignal<Team[]>([]);
    const contacts = useSignal<Customer[]>([]);
    const leads = useSignal<Lead[] | null>(null);
    const more = useSignal(false);

    function fail(e: unknown) {
        error.value = failure(e);
    }

    useEffect(() => {
        saved.value = draft.value = null;
        loadError.value = notice.value = "";
        error.value = null;
        contacts.value = [];
        leads.value = null;
        if (isNew) draft.value = blankCustomer(user);
        else {
            pipeline.getCustomer({ id }).then(({ response }) => (saved.value = draft.value = response))
                .catch((e) => isUnauthenticated(e) ? (currentUser.value = "signed-out") : (loadError.value = errorText(e)));
            pipeline.listCustomers({ query: "", parentId: id, pageSize: 200, pageToken: "", archived: 0 })
                .then(({ response }) => (contacts.value = response.customers.sort(byName))).catch(fail);
            pipeline.listLeads({
                type: 0, stageId: "0", teamId: "0", salespersonId: "0", customerId: id, tagId: "0", query: "", pageSize: 50, pageToken: "", archived: 0,
            }).then(({ response }) => {
                leads.value = response.leads;
                more.value = response.nextPageToken !== "";
            }).catch(fail);
        }
        // the names of deactivated salespeople too, for a customer one of them still has
        loadUserNames().catch(fail);
        Promise.all([loadSalespeople(), loadTeams()]).then(([p, t]) => {
            people.value = p;
            teams.value = t;
        }).catch(fail);
    }, [id]);

    function set<K extends keyof Customer>(k: K, v: Customer[K]) {
        if (draft.value) draft.value = { ...draft.value, [k]: v };
        notice.value = "";
    }

    async function save(ev: Event) {
        ev.preventDefault();
        const d = draft.value;
        if (!d) return;
        error.value = null;
        notice.value = "";
        busy.value = true;
        try {
            if (isNew) {
                const { response } = await pipeline.createCustomer(CreateCustomerRequest.create(d));
                navigate(`/customers/${response.id}`, true);
                return;
            }
            const changed = changedFields(saved.value!, d, FIELDS);
            if (changed.length === 0) {
                notice.value = "Nothing to save: no field has changed.";
                return;
            }
            const { response } = await pipeline.updateCustomer(UpdateCustomerRequest.create({
                ...d, updateMask: { paths: changed.map(maskPath) },
            }));
            saved.value = draft.value = response;
            notice.value = "Saved.";
        } catch (e) {
            fail(e);
        } finally {
            busy.value = false;
        }
    }

    if (loadError.value) return (
        <section class="lead-page" aria-labelledby="customer-title">
            <h1 id="customer-title">Customer</h1>
            <p class="error" role="alert">{loadError.value}</p>
            <p><a href="/customers">Back to the customers</a></p>
        </section>
    );
    const d = draft.value;
    if (!d) return <p role="status">Loading…</p>;
    const s = saved.value;
    const err = error.value;
    const readOnly = !seesAllLeads(user) && s !== null && s.salespersonId !== "0" && s.salespersonId !== user.id;

    // (preact types each input type apart; these four take the same props)
    const text = (field: "name" | "function" | "email" | "phone" | "street" | "city" | "country", label: string, type: "text" | "email" | "tel" | "date" = "text") => (
        <Field id={`customer-${field}`} label={label} name={field} error={err}>
            <input id={`customer-${field}`} type={type as "text"} value={d[field]} aria-describedby={`customer-${field}-error`}
                onInput={(e) => set(field, e.currentTarget.value)} />
        </Field>
    );

    return (
        <div class="lead-page">
            <section class="lead-main" aria-labelledby="customer-title">
                <p class="lead-crumbs"><a href="/customers">Customers</a> / {d.isCompany ? "Company" : "Contact"}</p>
                <h1 id="customer-title">{s ? s.name : "New customer"}</h1>
                {readOnly && <p class="lead-note">With Own Leads Only access you may change only your own and unassigned customers; this one is another salesperson's.</p>}
                <form class="lead-form" noValidate onSubmit={save} aria-label="Customer">
                    <fieldset class="lead-plain" disabled={readOnly}>
                        <legend class="visually-hidden">Customer</legend>
                        <div class="lead-grid">
                            {text("name", "Name")}
                            <div class="field">
                                <span class="field-label">Kind</span>
                                <label class="lead-choice">
                                    <input type="checkbox" checked={d.isCompany}
                                        onChange={(e) => {
                                            set("isCompany", e.currentTarget.checked);
                                            if (e.currentTarget.checked) set("parentId", "0");
                                        }} /> Is a company
                                </label>
                            </div>
                            {!d.isCompany && (
                                <Field id="customer-parentId" label="Company" name="parentId" error={err}>
                                    <CustomerSelect id="customer-parentId" value={d.parentId} noneLabel="No company" companiesOnly
                                        exclude={s?.id} disabled={readOnly} onChange={(v) => set("parentId", v)} />
                                </Field>
                            )}
                            {!d.isCompany && text("function", "Function (job title)")}
                            {text("email", "Email", "email")}
                            {text("phone", "Phone", "tel")}
                            {text("street", "Street")}
                            {text("city", "City")}
                            {text("country", "Country")}
                            <Field id="customer-salespersonId" label="Salesperson" name="salespersonId" error={err}>
                                <SalespersonSelect id="customer-salespersonId" user={user} people={people.value} value={d.salespersonId}
                                    holderName={userNames.value.get(d.salespersonId) ?? ""} onChange={(v) => set("salespersonId", v)} />
                            </Field>
                            <Field id="customer-teamId" label="Sales team" name="teamId" error={err}>
                                <TeamSelect id="customer-teamId" teams={teams.value} value={d.teamId} onChange={(v) => set("teamId", v)} />
                            </Field>
                        </div>
                        <FormAlert error={err} fields={FIELDS} />
                        {notice.value && <p role="status">{notice.value}</p>}
                        {!readOnly && <div class="lead-actions"><button type="submit" disabled={busy.value}>{isNew ? "Create" : "Save"}</button></div>}
                    </fieldset>
                </form>
                {s && s.isCompany && (
                    <section class="customer-related" aria-labelledby="customer-contacts">
                        <h2 id="customer-contacts">Contacts</h2>
                        {contacts.value.length === 0 ? <p>No contacts yet.</p> : (
                            <ul>
                                {contacts.value.map((c) => (
                                    <li key={c.id}><a href={`/customers/${c.id}`}>{c.name}</a>{c.function && <> — {c.function}</>}</li>
                                ))}
                            </ul>
                        )}
                        <p><a href={`/customers/new?parent=${s.id}`}>New contact</a></p>
                    </section>
                )}
                {s && (
                    <section class="customer-related" aria-labelledby="customer-leads">
                        <h2 id="customer-leads">Opportunities</h2>
                        {leads.value === null ? <p role="status">Loading…</p> : leads.value.length === 0 ? <p>No opportunities or leads yet.</p> : (
                            <ul>
                                {leads.value.map((l) => (
                                    <li key={l.id}>
                                        <a href={`/leads/${l.id}`}>{l.name}</a> — {isOpportunity(l.type) ? "opportunity" : "lead"},{" "}
                                        {statusLabel[l.status].toLowerCase()}, {formatMoney(l.expectedRevenue, l.currency)}
                                    </li>
                                ))}
                            </ul>
                        )}
                        {more.value && <p>Only the newest 50 are listed.</p>}
                        <p><a href={`/leads/new?type=opportunity&customer=${s.id}`}>New opportunity</a></p>
                    </section>
                )}
            </section>
            {s && <Chatter model="customer" id={s.id} />}
        </div>
    );
}
