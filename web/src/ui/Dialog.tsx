// A modal dialog: the browser's own <dialog> (focus moves in and stays
// inside, Escape closes it) with a title that names it. When it goes, focus
// goes back to the control that opened it, or, when that control is gone
// (Mark lost hides itself once the lead is lost), to the screen's heading,
// so that a keyboard or screen reader user is not left at the page's top.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

type Props = { id: string; title: string; class: string; onClose: () => void; children: ComponentChildren };

export function Dialog({ id, title, class: className, onClose, children }: Props) {
    const ref = useRef<HTMLDialogElement>(null);
    useEffect(() => {
        const d = ref.current;
        const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
        if (d && !d.open) d.showModal();
        return () => {
            d?.close();
            // after this render, which may have removed the opener
            queueMicrotask(() => {
                if (opener?.isConnected && !(opener as HTMLButtonElement).disabled) return opener.focus();
                const heading = document.querySelector<HTMLElement>("main h1");
                if (!heading) return;
                heading.tabIndex = -1;
                heading.focus();
            });
        };
    }, []);
    return (
        <dialog ref={ref} class={className} aria-labelledby={`${id}-title`} onClose={onClose}>
            <h2 id={`${id}-title`}>{title}</h2>
            {children}
        </dialog>
    );
}
