// Stages: the pipeline's columns for one sales team (its own and those of
// every team), in order. A stage is usable the moment CreateStage answers,
// so the board shows it at once; the order moves one step at a time.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Team, User } from "../../gen/identity";
import type { Stage } from "../../gen/pipeline";
import { LeadStatus, StageType, UpdateStageRequest } from "../../gen/pipeline";
import { pipeline } from "../api";
import { failure, type FormError } from "../ui/form";
import { labelOf, stageTypeLabels, statusLabels } from "./labels";
import { SettingsCrumb } from "./Settings";
import { StageForm, type StageFields } from "./StageForm";
import { listTeams } from "./teams";

const STEP = 10;

export function StagesSettings({ user }: { user: User }) {
    const teams = useSignal<Team[] | null>(null);   // null: not known yet
    const teamId = useSignal(user.teamIds[0] ?? "0");
    const stages = useSignal<Stage[] | null>(null);
    const error = useSignal<FormError>(null);
    const editing = useSignal<string | null>(null);
    const done = useSignal("");
    const formKey = useSignal(0);   // a new key clears the New stage form

    // a reply for a team no longer chosen (a slow one, the picker changed
    // meanwhile) is dropped rather than shown under the new team's name
    async function load() {
        const team = teamId.value;
        try {
            const { response } = await pipeline.listStages({ teamId: team, type: 0 });
            if (team === teamId.value) stages.value = response.stages;
        } catch (e) {
            if (team === teamId.value) error.value = failure(e);
        }
    }
    useEffect(() => {
        listTeams().then((t) => (teams.value = t), (e) => (error.value = failure(e)));
    }, []);
    useEffect(() => {
        stages.value = null;
        editing.value = null;
        error.value = null;
        void load();
    }, [teamId.value]);

    const teamName = (id: string) => id === "0" ? "Every team" : teams.value?.find((t) => t.id === id)?.name ?? `Team ${id}`;

    async function create(f: StageFields) {
        error.value = null;
        const s = await pipeline.createStage({ ...f, teamId: teamId.value });
        formKey.value++;
        await load();
        done.value = `Stage “${s.response.name}” created for ${teamName(teamId.value)}.`;
    }

    async function save(s: Stage, f: StageFields) {
        error.value = null;
        const paths = (Object.keys(f) as (keyof StageFields)[]).filter((k) => f[k] !== s[k]);
        if (paths.length)
            await pipeline.updateStage(UpdateStageRequest.create({ id: s.id, ...f, updateMask: { paths } }));
        editing.value = null;
        await load();
        if (paths.length) done.value = `Stage “${f.name}” saved.`;
    }

    // Swaps the places of two neighbours; when their orders are equal (the
    // API allows it) only the moved one changes, to just past the other.
    async function move(i: number, by: -1 | 1) {
        const list = stages.value;
        if (!list) return;
        const a = list[i], b = list[i + by];
        const place = (s: Stage, sequence: number) =>
            pipeline.updateStage(UpdateStageRequest.create({ id: s.id, sequence, updateMask: { paths: ["sequence"] } }));
        done.value = "";
        error.value = null;
        try {
            if (a.sequence === b.sequence) await place(a, b.sequence + by);
            else {
                await place(a, b.sequence);
                await place(b, a.sequence);
            }
        } catch (e) {
            error.value = failure(e);
        }
        await load();
        // said once the list shows it
        if (!error.value) done.value = `Stage “${a.name}” moved ${by < 0 ? "up" : "down"}.`;
    }

    async function remove(s: Stage) {
        if (!confirm(`Delete stage “${s.name}”?`)) return;
        done.value = "";
        error.value = null;
        try {
            await pipeline.deleteStage({ id: s.id });
        } catch (e) {
            error.value = failure(e);
        }
        await load();
        if (!error.value) done.value = `Stage “${s.name}” deleted.`;
    }

    const list = stages.value;
    const next = list && list.length ? Math.max(...list.map((s) => s.sequence)) + STEP : STEP;
    return (
        <section class="manage" aria-labelledby="stages-title">
            <SettingsCrumb here="Stages" />
            <h1 id="stages-title">Stages</h1>
            {/* shown with its options, so that it never shows a team it does not hold */}
            {teams.value && (
                <div class="field manage-picker">
                    <label for="stages-team">Sales team</label>
                    <select id="stages-team" value={teamId.value} onChange={(e) => (teamId.value = e.currentTarget.value)}>
                        <option value="0">Every team</option>
                        {teams.value.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                    </select>
                </div>
            )}
            {error.value && <p class="error" role="alert">{error.value.message}</p>}
            <p role="status" class="manage-done">{done.value}</p>
            {list === null
                ? !error.value && <p role="status">Loading…</p>
                : <div class="manage-table" role="region" aria-label={`Stages of ${teamName(teamId.value)}`} tabIndex={0}>
                    <table>
                        <caption>Stages of {teamName(teamId.value)}, in the board's order</caption>
                        <thead><tr>
                            <th scope="col">Order</th><th scope="col">Name</th><th scope="col">Team</th>
                            <th scope="col">Status</th><th scope="col">Probability</th><th scope="col">Type</th>
                            <th scope="col">Folded</th><th scope="col">Actions</th>
                        </tr></thead>
                        <tbody>
                            {list.map((s, i) => [
                                <tr key={s.id}>
                                    <td>{s.sequence}</td>
                                    <th scope="row">{s.name}</th>
                                    <td>{teamName(s.teamId)}</td>
                                    <td>{labelOf(statusLabels, s.status)}</td>
                                    <td>{s.probability} %</td>
                                    <td>{labelOf(stageTypeLabels, s.type)}</td>
                                    <td>{s.fold ? "Yes" : "No"}</td>
                                    <td class="manage-row-actions">
                                        <button type="button" aria-label={`Move ${s.name} up`} disabled={i === 0}
                                            onClick={() => move(i, -1)}>↑</button>
                                        <button type="button" aria-label={`Move ${s.name} down`} disabled={i === list.length - 1}
                                            onClick={() => move(i, 1)}>↓</button>
                                        <button type="button" aria-label={`Edit ${s.name}`}
                                            onClick={() => { editing.value = s.id; error.value = null; }}>Edit</button>
                                        <button type="button" aria-label={`Delete ${s.name}`}
                                            onClick={() => remove(s)}>Delete</button>
                                    </td>
                                </tr>,
                                editing.value === s.id && (
                                    <tr key={`${s.id}-edit`}><td colSpan={8}>
                                        <StageForm idPrefix={`stage-${s.id}`} title={`Edit stage ${s.name}`} submitLabel="Save stage"
                                            initial={s} onSave={(f) => save(s, f)} onCancel={() => (editing.value = null)} />
                                    </td></tr>
                                ),
                            ])}
                        </tbody>
                    </table>
                  </div>}
            {list !== null && (
                <StageForm key={`${teamId.value}-${formKey.value}`} idPrefix="new-stage" title="New stage"
                    submitLabel="Create stage" onSave={create}
                    initial={{ name: "", status: LeadStatus.IN_PROGRESS, probability: 10, type: StageType.BOTH, sequence: next, fold: false }} />
            )}
        </section>
    );
}
