// Lost reasons: what a salesperson picks when an opportunity is lost.
import { pipeline } from "../api";
import { NameList } from "./NameList";

export function LostReasonsSettings() {
    return <NameList title="Lost reasons" noun="lost reason" idPrefix="lost-reasons"
        list={async () => (await pipeline.listLostReasons({})).response.lostReasons}
        create={async (name) => void await pipeline.createLostReason({ name })}
        rename={async (id, name) => void await pipeline.updateLostReason({ id, name })}
        remove={async (id) => void await pipeline.deleteLostReason({ id })} />;
}
