// An example skill: counts the words and characters of a text.
export default {
  name: 'word_count',
  description: 'Counts the words and characters in a text.',
  version: '1.0.0',
  parameters: {
    type: 'object',
    properties: { text: { type: 'string', maxLength: 1000000 } },
    required: ['text'],
    additionalProperties: false,
  },
  async execute({ text }) {
    const words = text.trim() === '' ? 0 : text.trim().split(/\s+/u).length;
    return { words, characters: [...text].length };
  },
};
