import { htmlBody, textOfHtml } from './html';
import type { StoryDetails, UserRecord } from './workspace.records';

/** A story before it is recorded: what it says and, for a comment, its rich text. */
export interface StoryDraft {
  details: StoryDetails;
  text: string;
  htmlText: string;
}

function system(details: StoryDetails, text: string): StoryDraft {
  return { details, text, htmlText: htmlBody(text) };
}

/*
 * The system stories a task change makes. Asana's text leaves out the creator's name ("assigned to
 * Grace", not "Ada assigned to Grace") and is fixed when the story is made; its spec warns the
 * wording is not stable, so clients go by `resource_subtype`.
 */

export function addedToProject(project: { gid: string; name: string }): StoryDraft {
  return system({ subtype: 'added_to_project', projectGid: project.gid }, `added to ${project.name}`);
}

export function nameChanged(oldName: string, newName: string): StoryDraft {
  return system({ subtype: 'name_changed', oldName, newName }, `changed the name to "${newName}"`);
}

export function notesChanged(): StoryDraft {
  return system({ subtype: 'notes_changed' }, 'changed the description');
}

export function assigned(assignee: UserRecord): StoryDraft {
  return system({ subtype: 'assigned', assigneeGid: assignee.gid }, `assigned to ${assignee.name}`);
}

export function unassigned(previous: UserRecord | undefined): StoryDraft {
  return system({ subtype: 'unassigned' }, previous ? `unassigned from ${previous.name}` : 'unassigned');
}

export function completionChanged(completed: boolean): StoryDraft {
  return completed
    ? system({ subtype: 'marked_complete' }, 'marked this task complete')
    : system({ subtype: 'marked_incomplete' }, 'marked this task incomplete');
}

export function attachmentAdded(name: string): StoryDraft {
  return system({ subtype: 'attachment_added' }, `attached ${name}`);
}

/**
 * A comment from `POST /tasks/{gid}/stories`: `text`, or `html_text` (Asana's `<body>…</body>`),
 * whose plain text is the markup's text content.
 */
export function comment(input: { text?: string; htmlText?: string }): StoryDraft {
  if (input.htmlText !== undefined) {
    return { details: { subtype: 'comment_added' }, text: textOfHtml(input.htmlText), htmlText: input.htmlText };
  }
  const text = input.text ?? '';
  return { details: { subtype: 'comment_added' }, text, htmlText: htmlBody(text) };
}
