// Tags: the categories an opportunity can carry (walkthrough 5).
import { pipeline } from "../api";
import { NameList } from "./NameList";

export function TagsSettings() {
    return <NameList title="Tags" noun="tag" idPrefix="tags"
        list={async () => (await pipeline.listTags({})).response.tags}
        create={async (name) => void await pipeline.createTag({ name })}
        rename={async (id, name) => void await pipeline.updateTag({ id, name })}
        remove={async (id) => void await pipeline.deleteTag({ id })} />;
}
