// Sales teams: one per product line (walkthrough 15), each with a leader
// and members; a member's pipeline shows the team's stages. A team is
// archived rather than deleted (its leads keep it; it takes no new ones).
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Team, User } from "../../gen/identity";
import { UpdateTeamRequest } from "../../gen/identity";
import { identity } from "../api";
import { failure, type FormError } from "../ui/form";
import { compareNames } from "../format";
import { SettingsCrumb } from "./Settings";
import { TeamForm, type TeamFields } from "./TeamForm";
import { AssignmentRulesPanel } from "./AssignmentRulesPanel";
import { listTeams, listUsers } from "./teams";

export function TeamsSettings() {
    const teams = useSignal<Team[] | null>(null);
    const people = useSignal<User[]>([]);
    const names = useSignal<ReadonlyMap<string, string>>(new Map());
    const error = useSignal<FormError>(null);
    const editing = useSignal<string | null>(null);
    const rulesOf = useSignal<string | null>(null);
    const done = useSignal("");
    const formKey = useSignal(0);
    const showArchived = useSignal(false);

    async function load() {
        try {
            const [t, everyone] = await Promise.all([listTeams(showArchived.value), listUsers(true)]);
            teams.value = t;
            people.value = everyone.filter((u) => u.active);
            names.value = new Map(everyone.map((u) => [u.id, u.name || u.login]));
            error.value = null;
        } catch (e) {
            error.value = failure(e);
        }
    }
    useEffect(() => void load(), [showArchived.value]);

    const nameOf = (id: string) => names.value.get(id) ?? `User ${id}`;

    async function create(f: TeamFields) {
        const { response } = await identity.createTeam(f);
        formKey.value++;
        await load();
        done.value = `Sales team “${response.name}” created.`;
    }

    async function save(t: Team, f: TeamFields) {
        const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
        // leaving deactivated users out changes the members and leader too
        const paths = [
            ...(f.name !== t.name ? ["name"] : []),
            ...(f.leaderId !== t.leaderId ? ["leader_id"] : []),
            ...(!same(f.memberIds, t.memberIds) ? ["member_ids"] : []),
        ];
        if (paths.length)
            await identity.updateTeam(UpdateTeamRequest.create({ id: t.id, ...f, updateMask: { paths } }));
        editing.value = null;
        await load();
        if (paths.length) done.value = `Sales team “${f.name}” saved.`;
    }

    async function setArchived(t: Team, archived: boolean) {
        try {
            await identity.updateTeam(UpdateTeamRequest.create({ id: t.id, archived, updateMask: { paths: ["archived"] } }));
            await load();
            done.value = `Sales team “${t.name}” ${archived ? "archived" : "restored"}.`;
        } catch (e) {
            error.value = failure(e);
        }
    }

    const list = teams.value;
    return (
        <section class="manage" aria-labelledby="teams-title">
            <SettingsCrumb here="Sales teams" />
            <h1 id="teams-title">Sales teams</h1>
            {error.value && <p class="error" role="alert">{error.value.message}</p>}
            <p role="status" class="manage-done">{done.value}</p>
            <label class="lead-choice">
                <input type="checkbox" checked={showArchived.value}
                    onChange={(e) => (showArchived.value = e.currentTarget.checked)} /> Show archived teams
            </label>
            {list === null
                ? !error.value && <p role="status">Loading…</p>
                : list.length === 0
                    ? <p>No sales team yet.</p>
                    : <div class="manage-table" role="region" aria-label="Sales teams list" tabIndex={0}>
                        <table>
                            <thead><tr>
                                <th scope="col">Name</th><th scope="col">Team leader</th>
                                <th scope="col">Members</th><th scope="col">Actions</th>
                            </tr></thead>
                            <tbody>
                                {list.map((t) => [
                                    <tr key={t.id}>
                                        <th scope="row">{t.name}{t.archived && " (archived)"}</th>
                                        <td>{t.leaderId !== "0" ? nameOf(t.leaderId) : "—"}</td>
                                        <td>{t.memberIds.map(nameOf).sort(compareNames).join(", ") || "—"}</td>
                                        <td><button type="button" aria-label={`Edit ${t.name}`}
                                            onClick={() => (editing.value = t.id)}>Edit</button>{" "}
                                            <button type="button" aria-label={`${t.archived ? "Restore" : "Archive"} ${t.name}`}
                                                onClick={() => setArchived(t, !t.archived)}>{t.archived ? "Restore" : "Archive"}</button>{" "}
                                            <button type="button" aria-label={`Assignment rules of ${t.name}`} aria-expanded={rulesOf.value === t.id}
                                                onClick={() => (rulesOf.value = rulesOf.value === t.id ? null : t.id)}>Assignment rules</button></td>
                                    </tr>,
                                    rulesOf.value === t.id && (
                                        <tr key={`${t.id}-rules`}><td colSpan={4}>
                                            <AssignmentRulesPanel team={t} people={people.value} nameOf={nameOf} />
                                        </td></tr>
                                    ),
                                    editing.value === t.id && (
                                        <tr key={`${t.id}-edit`}><td colSpan={4}>
                                            <TeamForm idPrefix={`team-${t.id}`} title={`Edit sales team ${t.name}`}
                                                submitLabel="Save team" initial={t} people={people.value} nameOf={nameOf}
                                                onSave={(f) => save(t, f)} onCancel={() => (editing.value = null)} />
                                        </td></tr>
                                    ),
                                ])}
                            </tbody>
                        </table>
                      </div>}
            {list !== null && (
                <TeamForm key={formKey.value} idPrefix="new-team" title="New sales team" submitLabel="Create team"
                    initial={{ name: "", leaderId: "0", memberIds: [] }} people={people.value} nameOf={nameOf} onSave={create} />
            )}
        </section>
    );
}
