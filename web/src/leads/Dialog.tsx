// A modal dialog (the browser's own <dialog>: focus kept inside, Escape
// closes it) with a title that names it.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

type Props = { id: string; title: string; onClose: () => void; children: ComponentChildren };

export function Dialog({ id, title, onClose, children }: Props) {
    const ref = useRef<HTMLDialogElement>(null);
    useEffect(() => {
        const d = ref.current;
        if (d && !d.open) d.showModal();
        return () => d?.close();
    }, []);
    return (
        <dialog ref={ref} class="lead-dialog" aria-labelledby={`${id}-title`} onClose={onClose}>
            <h2 id={`${id}-title`}>{title}</h2>
            {children}
        </dialog>
    );
}
