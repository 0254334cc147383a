// A sales team's assignment rules: its salespeople in round-robin order,
// each with a maximum of new leads in any 30 days and how many they were
// given in the last 30; whether the team's new unassigned leads are given
// out as they come; and the team's unassigned leads given out now.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Team, User } from "../../gen/identity";
import type { AssignLeadsReply, AssignmentMember } from "../../gen/pipeline";
import { pipeline } from "../api";
import { failure, submitting, Field, FormAlert, type FormError } from "../ui/form";

type Props = {
    team: Team;
    people: User[];                 // active users
    nameOf: (id: string) => string;
};

type Row = { userId: string; maxPer30Days: number; assignedLast30Days: number };

export function AssignmentRulesPanel({ team, people, nameOf }: Props) {
    const rows = useSignal<Row[] | null>(null);
    const autoAssign = useSignal(false);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const done = useSignal("");
    const adding = useSignal("");
    const assigned = useSignal<AssignLeadsReply | null>(null);
    const id = (n: string) => `assign-${team.id}-${n}`;
    // the maximum's bounds are the server's to say, under the field: no
    // min/max for the browser to refuse the form with words of its own

    async function load() {
        try {
            const { response } = await pipeline.getAssignmentRules({ teamId: team.id });
            rows.value = response.members.map((m: AssignmentMember) => ({ ...m }));
            autoAssign.value = response.autoAssign;
        } catch (e) {
            error.value = failure(e);
        }
    }
    useEffect(() => void load(), [team.id]);

    // the team's members who may be added: active, not in the rules yet
    const candidates = people.filter((u) => team.memberIds.includes(u.id) && !(rows.value ?? []).some((r) => r.userId === u.id));

    function change(i: number, row: Partial<Row>) {
        rows.value = (rows.value ?? []).map((r, k) => (k === i ? { ...r, ...row } : r));
    }
    function move(i: number, by: number) {
        const list = [...(rows.value ?? [])];
        const [r] = list.splice(i, 1);
        list.splice(i + by, 0, r);
        rows.value = list;
    }
    function add() {
        const userId = adding.value || candidates[0]?.id;
        if (!userId) return;
        rows.value = [...(rows.value ?? []), { userId, maxPer30Days: 30, assignedLast30Days: 0 }];
        adding.value = "";
    }

    async function save(ev: Event) {
        ev.preventDefault();
        done.value = "";
        await submitting(busy, error, async () => {
            const { response } = await pipeline.setAssignmentRules({
                teamId: team.id,
                autoAssign: autoAssign.value,
                members: (rows.value ?? []).map((r) => ({ userId: r.userId, maxPer30Days: r.maxPer30Days, assignedLast30Days: 0 })),
            });
            rows.value = response.members.map((m) => ({ ...m }));
            autoAssign.value = response.autoAssign;
            done.value = `Assignment rules of ${team.name} saved.`;
        });
    }

    async function assignNow() {
        done.value = "";
        assigned.value = null;
        await submitting(busy, error, async () => {
            const { response } = await pipeline.assignLeads({ teamId: team.id, limit: 0 });
            assigned.value = response;
            await load();
        });
    }

    const list = rows.value;
    const title = `Assignment rules of ${team.name}`;
    const fieldsNamed = ["members", ...(list ?? []).flatMap((_, i) => [`members[${i}].userId`, `members[${i}].maxPer30Days`])];
    const rowError = (i: number) =>
        error.value?.field === `members[${i}].userId` ? error.value.message : "";
    return (
        <section class="manage-form" aria-label={title}>
            <h2>{title}</h2>
            {list === null
                ? (error.value ? <p class="error" role="alert">{error.value.message}</p> : <p role="status">Loading…</p>)
                : <form onSubmit={save} aria-label={`Edit ${title}`}>
                    <label class="manage-check">
                        <input type="checkbox" role="switch" checked={autoAssign.value}
                            onChange={(e) => (autoAssign.value = e.currentTarget.checked)} />
                        Give the team's new unassigned leads out as they come
                    </label>
                    {list.length === 0
                        ? <p>Nobody is given leads yet: add the team's salespeople below.</p>
                        : <div class="manage-table" role="region" aria-label={`Salespeople of ${team.name} in turn`} tabIndex={0}>
                            <table>
                                <thead><tr>
                                    <th scope="col">Salesperson</th><th scope="col">Maximum per 30 days</th>
                                    <th scope="col">Last 30 days</th><th scope="col">Actions</th>
                                </tr></thead>
                                <tbody>
                                    {list.map((r, i) => {
                                        const who = nameOf(r.userId);
                                        return (
                                            <tr key={r.userId}>
                                                <th scope="row">
                                                    {who}
                                                    <p id={id(`${i}-user-error`)} class="field-error" role={rowError(i) ? "alert" : undefined}>{rowError(i)}</p>
                                                </th>
                                                <td>
                                                    <Field id={id(`${i}-max`)} label={`Maximum for ${who}`} name={`members[${i}].maxPer30Days`} error={error.value}>
                                                        <input id={id(`${i}-max`)} aria-describedby={`${id(`${i}-max`)}-error`} type="number"
                                                            inputMode="numeric" value={r.maxPer30Days}
                                                            onInput={(e) => change(i, { maxPer30Days: Number(e.currentTarget.value) })} />
                                                    </Field>
                                                </td>
                                                <td>{r.assignedLast30Days}</td>
                                                <td class="manage-row-actions">
                                                    <button type="button" aria-label={`Move ${who} up`} disabled={i === 0} onClick={() => move(i, -1)}>Up</button>
                                                    <button type="button" aria-label={`Move ${who} down`} disabled={i === list.length - 1} onClick={() => move(i, 1)}>Down</button>
                                                    <button type="button" aria-label={`Remove ${who}`}
                                                        onClick={() => (rows.value = list.filter((_, k) => k !== i))}>Remove</button>
                                                </td>
                                            </tr>
                                        );
                                    })}
                                </tbody>
                            </table>
                          </div>}
                    {candidates.length > 0 && (
                        <div class="manage-check">
                            <label for={id("add")}>Salesperson to add</label>
                            <select id={id("add")} value={adding.value || candidates[0].id} onChange={(e) => (adding.value = e.currentTarget.value)}>
                                {candidates.map((u) => <option key={u.id} value={u.id}>{u.name || u.login}</option>)}
                            </select>
                            <button type="button" onClick={add}>Add to the rules</button>
                        </div>
                    )}
                    <FormAlert error={error.value} fields={fieldsNamed.filter((f) => f !== "members")} />
                    <div class="manage-actions">
                        <button type="submit" disabled={busy.value}>Save rules</button>
                        <button type="button" disabled={busy.value} onClick={assignNow}>Assign unassigned leads now</button>
                    </div>
                    <p role="status" class="manage-done">{done.value}</p>
                  </form>}
            {assigned.value && (
                <div role="region" aria-label={`Leads just assigned in ${team.name}`}>
                    <p>
                        {assigned.value.assigned.length === 0
                            ? "No lead was assigned."
                            : `${assigned.value.assigned.length} ${assigned.value.assigned.length === 1 ? "lead" : "leads"} assigned.`}
                        {" "}{assigned.value.leftUnassigned} left unassigned.
                    </p>
                    {assigned.value.assigned.length > 0 && (
                        <ul>
                            {assigned.value.assigned.map((a) => (
                                <li key={a.leadId}><a href={`/leads/${a.leadId}`}>Lead {a.leadId}</a> → {nameOf(a.salespersonId)}</li>
                            ))}
                        </ul>
                    )}
                </div>
            )}
        </section>
    );
}
