// One stage's fields, to create a stage or change one: name, the status a
// lead takes on entering it, probability, which kind of lead it holds, its
// place in the order, and whether the board shows it folded.
import { useSignal } from "@preact/signals";
import type { Stage } from "../../gen/pipeline";
import { LeadStatus, StageType } from "../../gen/pipeline";
import { submitting, Field, FormAlert, type FormError } from "../ui/form";
import { stageTypeLabels, statusLabels } from "./labels";

export type StageFields = Pick<Stage, "name" | "status" | "probability" | "type" | "sequence" | "fold">;

type Props = {
    idPrefix: string;
    title: string;                  // the form's name: "New stage", "Edit stage Won"
    submitLabel: string;
    initial: StageFields;
    onSave: (fields: StageFields) => Promise<void>;
    onCancel?: () => void;
};

const fieldNames = ["name", "status", "probability", "type", "sequence", "fold"] as const;

export function StageForm({ idPrefix, title, submitLabel, initial, onSave, onCancel }: Props) {
    const f = useSignal<StageFields>({ ...initial });
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);
    const set = (patch: Partial<StageFields>) => (f.value = { ...f.value, ...patch });
    const id = (n: string) => `${idPrefix}-${n}`;
    const described = (n: string) => ({ id: id(n), "aria-describedby": `${id(n)}-error` });

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, () => onSave({ ...f.value, name: f.value.name.trim() }));
    }

    return (
        <form class="manage-form" onSubmit={submit} aria-label={title}>
            <h2>{title}</h2>
            <div class="manage-grid">
                <Field id={id("name")} label="Name" name="name" error={error.value}>
                    <input {...described("name")} value={f.value.name} required maxLength={128}
                        onInput={(e) => set({ name: e.currentTarget.value })} />
                </Field>
                <Field id={id("status")} label="Status" name="status" error={error.value}>
                    <select {...described("status")} value={f.value.status || LeadStatus.IN_PROGRESS}
                        onChange={(e) => set({ status: Number(e.currentTarget.value) })}>
                        {statusLabels.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                <Field id={id("probability")} label="Probability (%)" name="probability" error={error.value}>
                    <input {...described("probability")} type="number" min={0} max={100} step={1} required
                        value={f.value.probability}
                        onInput={(e) => set({ probability: e.currentTarget.valueAsNumber || 0 })} />
                </Field>
                <Field id={id("type")} label="Type" name="type" error={error.value}>
                    <select {...described("type")} value={f.value.type || StageType.BOTH}
                        onChange={(e) => set({ type: Number(e.currentTarget.value) })}>
                        {stageTypeLabels.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                    </select>
                </Field>
                <Field id={id("sequence")} label="Order" name="sequence" error={error.value}>
                    <input {...described("sequence")} type="number" step={1} required value={f.value.sequence}
                        onInput={(e) => set({ sequence: e.currentTarget.valueAsNumber || 0 })} />
                </Field>
                <div class="field manage-check">
                    <input id={id("fold")} type="checkbox" checked={f.value.fold} aria-describedby={`${id("fold")}-error`}
                        onChange={(e) => set({ fold: e.currentTarget.checked })} />
                    <label for={id("fold")}>Folded on the board</label>
                    <p id={`${id("fold")}-error`} class="field-error" role={error.value?.field === "fold" ? "alert" : undefined}>
                        {error.value?.field === "fold" ? error.value.message : ""}</p>
                </div>
            </div>
            <FormAlert error={error.value} fields={fieldNames} />
            <div class="manage-actions">
                <button type="submit" disabled={busy.value}>{submitLabel}</button>
                {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
            </div>
        </form>
    );
}

