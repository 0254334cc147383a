// A document's discussion, full page (/chatter/:model/:id): its name, a
// link to the document's own screen, and its chatter. Inbox entries open it.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { errorText, isUnauthenticated } from "../api";
import { currentUser } from "../session";
import { Chatter } from "./Chatter";
import { docPath, isDocModel, loadDoc, modelNames } from "./doc";

export function DiscussionPage({ model, id }: { model: string; id: string }) {
    const name = useSignal("");
    const error = useSignal("");
    const valid = isDocModel(model) && /^[1-9][0-9]*$/.test(id);

    useEffect(() => {
        if (!isDocModel(model) || !valid) return;
        name.value = "";
        error.value = "";
        loadDoc(model, id).then((d) => (name.value = d.name), (e) => {
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            else error.value = errorText(e);
        });
    }, [model, id]);

    if (!isDocModel(model) || !valid) return <p role="status">There is no such document.</p>;
    const kind = modelNames[model];
    return (
        <article class="discussion" aria-labelledby="discussion-title">
            <h1 id="discussion-title">Discussion: {name.value || `${kind} ${id}`}</h1>
            <p><a href={docPath({ model, id })}>{`Open the ${kind.toLowerCase()}`}</a></p>
            {error.value ? <p class="error" role="alert">{error.value}</p> : <Chatter model={model} id={id} />}
        </article>
    );
}
