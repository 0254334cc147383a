// The stages of the lead's team, in order, as a bar: the current one marked,
// each other one a button that moves the lead there (walkthrough 11: any
// stage can be chosen, not only those a card was dragged into).
import type { Stage } from "../../gen/pipeline";

type Props = {
    stages: Stage[];
    current: string;                 // stage id
    busy: boolean;
    onChoose: (stageId: string) => void;
};

export function StageBar({ stages, current, busy, onChoose }: Props) {
    return (
        <ol class="lead-stages" aria-label="Stage">
            {stages.map((s) => (
                <li key={s.id}>
                    <button type="button" aria-current={s.id === current ? "step" : undefined}
                        aria-pressed={s.id === current} disabled={busy}
                        onClick={() => s.id !== current && onChoose(s.id)}>{s.name}</button>
                </li>
            ))}
        </ol>
    );
}
