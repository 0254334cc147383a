// "Possible duplicates": other leads (or customers) with the same e-mail,
// phone or company, as the service finds them (OpenERP warns, never
// refuses). The reply that loaded the record carries them; while the person
// types, FindDuplicates is asked again once the typing pauses. Leads of
// another salesperson are never among them for an own-leads user: the
// service leaves them out.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { DuplicateReason, ImportModel, type LikelyDuplicate } from "../../gen/pipeline";
import { errorText, pipeline } from "../api";

const PAUSE_MS = 400;

const reasonWords: Record<number, string> = {
    [DuplicateReason.EMAIL]: "same email",
    [DuplicateReason.PHONE]: "same phone",
    [DuplicateReason.COMPANY]: "same company",
};

type Values = { email: string; phone: string; companyName: string };

type Props = Values & {
    model: ImportModel;
    excludeId: string;                 // the record itself ("0": a new one)
    known: LikelyDuplicate[];          // from the reply that loaded the record
    knownFor: Values | null;           // the values those were found for
};

const same = (a: Values, b: Values | null) =>
    b !== null && a.email === b.email && a.phone === b.phone && a.companyName === b.companyName;

export function PossibleDuplicates({ model, email, phone, companyName, excludeId, known, knownFor }: Props) {
    const found = useSignal<LikelyDuplicate[]>(known);
    const error = useSignal("");
    const values = { email, phone, companyName };
    const asKnown = same(values, knownFor);

    useEffect(() => {
        error.value = "";
        if (asKnown) {
            found.value = known;
            return;
        }
        if (!email.trim() && !phone.trim() && !companyName.trim()) {
            found.value = [];
            return;
        }
        let stale = false;
        const timer = setTimeout(() => {
            pipeline.findDuplicates({ model, email, phone, companyName, excludeId })
                .then(({ response }) => void (stale || (found.value = response.duplicates)))
                .catch((e) => void (stale || (error.value = errorText(e))));
        }, PAUSE_MS);
        return () => {
            stale = true;
            clearTimeout(timer);
        };
    }, [email, phone, companyName, excludeId, asKnown, known]);

    const list = found.value;
    const base = model === ImportModel.CUSTOMER ? "/customers" : "/leads";
    return (
        <div class="duplicates" aria-live="polite">
            {error.value && <p class="error">Possible duplicates could not be looked up: {error.value}</p>}
            {list.length > 0 && (
                <section class="duplicates-list" aria-labelledby="duplicates-title">
                    <h2 id="duplicates-title">Possible duplicates</h2>
                    <ul>
                        {list.map((d) => (
                            <li key={`${d.model}${d.id}`}>
                                <a href={`${base}/${d.id}`}>{d.name}</a>
                                {" — "}{d.reasons.map((r) => reasonWords[r] ?? "alike").join(", ")}
                            </li>
                        ))}
                    </ul>
                </section>
            )}
        </div>
    );
}
