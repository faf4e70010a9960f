// Container names: Docker's "adjective_surname" for unnamed containers, unique per daemon.
import { randomInt } from 'node:crypto';

const LEFT = [
  'admiring', 'adoring', 'affectionate', 'amazing', 'awesome', 'blissful', 'bold', 'brave', 'busy', 'charming',
  'clever', 'compassionate', 'competent', 'confident', 'cool', 'dazzling', 'determined', 'dreamy', 'eager', 'ecstatic',
  'elastic', 'elegant', 'epic', 'exciting', 'fervent', 'festive', 'focused', 'friendly', 'frosty', 'funny',
  'gallant', 'gifted', 'goofy', 'gracious', 'happy', 'hopeful', 'hungry', 'inspiring', 'intelligent', 'jolly',
  'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'nice', 'nifty',
  'nostalgic', 'objective', 'optimistic', 'peaceful', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical', 'relaxed',
  'reverent', 'romantic', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'sweet', 'tender',
  'thirsty', 'trusting', 'upbeat', 'vibrant', 'vigilant', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous',
];

const RIGHT = [
  'agnesi', 'albattani', 'archimedes', 'babbage', 'bardeen', 'bell', 'booth', 'borg', 'bose', 'brahmagupta',
  'carson', 'cerf', 'chandrasekhar', 'curie', 'darwin', 'dijkstra', 'einstein', 'euclid', 'euler', 'faraday',
  'fermat', 'feynman', 'franklin', 'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg',
  'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamarr', 'leakey', 'lovelace', 'mccarthy', 'meitner',
  'mendel', 'morse', 'napier', 'newton', 'noether', 'pascal', 'pasteur', 'payne', 'perlman', 'pike',
  'poincare', 'ramanujan', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shockley', 'sinoussi', 'stallman', 'swartz',
  'tesla', 'thompson', 'torvalds', 'turing', 'volhard', 'wescoff', 'wiles', 'williams', 'wozniak', 'wright',
];

export function randomName(taken: (name: string) => boolean): string {
  for (let attempt = 0; ; attempt++) {
    let name = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    if (attempt > 10) name += String(randomInt(10));
    if (!taken(name)) return name;
  }
}
