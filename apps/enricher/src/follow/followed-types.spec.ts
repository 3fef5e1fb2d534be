import { followsEventsOf, notFollowedReason } from './followed-types';

describe('followsEventsOf (the types Asana’s Events API takes)', () => {
  it.each(['task', 'project', 'goal'])('follows a %s', (type) => {
    expect(followsEventsOf(type)).toBe(true);
  });

  it.each(['workspace', 'team', 'portfolio', 'user', 'tag', 'section', 'story', ''])(
    'does not follow a %p: Asana answers 400 for it',
    (type) => {
      expect(followsEventsOf(type)).toBe(false);
    },
  );

  it('takes a type not known for a project, as the resync does', () => {
    expect(followsEventsOf(null)).toBe(true);
  });

  it('says why a type is not followed', () => {
    expect(notFollowedReason('workspace')).toBe(
      "Asana's Events API takes a task, project, goal, not a workspace: its webhook and resyncs still cover it",
    );
  });
});
