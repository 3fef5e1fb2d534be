import { allTopics, changeTopic, deadLetterTopic, QUARANTINE_TOPIC, TopicNames, TOPICS } from './topology';

describe('the topic topology', () => {
  it('names each topic once', () => {
    const names = allTopics().map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('compacts asana.state so it is a table anyone can bootstrap from', () => {
    expect(TOPICS.state.configs['cleanup.policy']).toBe('compact');
  });

  it('gives every gid-keyed topic the same partition count, so a gid lands on the same partition number', () => {
    const counts = new Set([TOPICS.events, TOPICS.state, changeTopic('task')].map((t) => t.partitions));
    expect(counts.size).toBe(1);
  });

  it('routes known types to their own change topic and others to asana.changes.other', () => {
    expect(changeTopic('task').name).toBe('asana.changes.task');
    expect(changeTopic('project').name).toBe('asana.changes.project');
    expect(changeTopic('custom_field').name).toBe('asana.changes.other');
  });

  it('gives asana.events and asana.state a dead-letter topic on the same partitioning, kept long', () => {
    const names = allTopics().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['asana.events.dlq', 'asana.state.dlq', QUARANTINE_TOPIC.name]));
    for (const source of [TOPICS.events, TOPICS.state]) {
      const dlq = deadLetterTopic(source.name);
      expect(dlq.partitions).toBe(source.partitions);
      expect(Number(dlq.configs['retention.ms'])).toBeGreaterThan(Number(TOPICS.events.configs['retention.ms']));
    }
  });

  it('prefixes physical names and maps them back', () => {
    const names = new TopicNames('run42.');
    expect(names.physical('asana.events')).toBe('run42.asana.events');
    expect(names.logical('run42.asana.events')).toBe('asana.events');
    expect(() => names.logical('asana.events')).toThrow(/prefix/);
  });
});
