// Mark lost: the reason is chosen from the configured lost reasons
// (ListLostReasons), or none.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Lead, LostReason } from "../../gen/pipeline";
import { pipeline } from "../api";
import { Field, FormAlert, failure, submitting, type FormError } from "../ui/form";
import { Dialog } from "../ui/Dialog";
import { loadLostReasons } from "./lookups";

type Props = { lead: Lead; onDone: (l: Lead) => void; onClose: () => void };

export function LostDialog({ lead, onDone, onClose }: Props) {
    const reasons = useSignal<LostReason[] | null>(null);
    const reasonId = useSignal("0");
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    useEffect(() => {
        loadLostReasons().then((r) => (reasons.value = r)).catch((e) => (error.value = failure(e)));
    }, []);

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => onDone((await pipeline.markLost({ id: lead.id, lostReasonId: reasonId.value })).response));
    }

    return (
        <Dialog id="lost" class="lead-dialog" title="Mark lost" onClose={onClose}>
            <form method="dialog" onSubmit={submit}>
                <Field id="lost-reason" label="Lost reason" name="lostReasonId" error={error.value}>
                    <select id="lost-reason" value={reasonId.value} aria-describedby="lost-reason-error"
                        onChange={(e) => (reasonId.value = e.currentTarget.value)}>
                        <option value="0">No reason given</option>
                        {(reasons.value ?? []).map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
                    </select>
                </Field>
                <FormAlert error={error.value} fields={["lostReasonId"]} />
                <div class="lead-actions">
                    <button type="submit" disabled={busy.value}>Mark lost</button>
                    <button type="button" onClick={onClose}>Cancel</button>
                </div>
            </form>
        </Dialog>
    );
}
