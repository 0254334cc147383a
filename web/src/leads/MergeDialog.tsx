// Merge: the leads chosen in the list become one. The person picks the one
// to keep (at first the one the service would pick: the first opportunity,
// else the oldest); it keeps its values and takes the others' where it has
// none, their chatter, calls, meetings and followers; the others are
// deleted. Then the merged lead opens.
import { useSignal } from "@preact/signals";
import type { Lead } from "../../gen/pipeline";
import { pipeline } from "../api";
import { navigate } from "../router";
import { FormAlert, submitting, type FormError } from "../ui/form";
import { Dialog } from "../ui/Dialog";
import { isOpportunity } from "./labels";

type Props = { leads: Lead[]; onClose: () => void };

function servicesChoice(leads: Lead[]): string {
    const opp = leads.find((l) => isOpportunity(l.type));
    if (opp) return opp.id;
    return leads.reduce((a, b) => (BigInt(b.createdAt) < BigInt(a.createdAt) ? b : a)).id;
}

export function MergeDialog({ leads, onClose }: Props) {
    const keep = useSignal(servicesChoice(leads));
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            const { response } = await pipeline.mergeLeads({ ids: leads.map((l) => l.id), intoId: keep.value });
            onClose();
            navigate(`/leads/${response.id}`);
        });
    }

    const err = error.value;
    const mine = err && (err.field === "ids" || err.field === "intoId");
    return (
        <Dialog id="merge" class="lead-dialog" title={`Merge ${leads.length} leads`} onClose={onClose}>
            <form method="dialog" onSubmit={submit}>
                <fieldset aria-describedby="merge-keep-error">
                    <legend>Lead to keep</legend>
                    {leads.map((l) => (
                        <label key={l.id}>
                            <input type="radio" name="merge-keep" value={l.id} checked={keep.value === l.id}
                                onChange={() => (keep.value = l.id)} />
                            {" "}{l.name} ({isOpportunity(l.type) ? "opportunity" : "lead"})
                        </label>
                    ))}
                    <p id="merge-keep-error" class="field-error" role={mine ? "alert" : undefined}>{mine ? err.message : ""}</p>
                </fieldset>
                <p>The lead kept takes the others' values where it has none, their tags, notes, chatter, calls, meetings
                    and followers; the others are deleted.</p>
                <FormAlert error={err} fields={["ids", "intoId"]} />
                <div class="lead-actions">
                    <button type="submit" disabled={busy.value}>Merge</button>
                    <button type="button" onClick={onClose}>Cancel</button>
                </div>
            </form>
        </Dialog>
    );
}
