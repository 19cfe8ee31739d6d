/* commands.h: the subcommands of the ima tool; each returns the process exit code. */
#ifndef IMA_CLI_COMMANDS_H
#define IMA_CLI_COMMANDS_H

int cmd_train(int argc, char **argv);         /* cmd_train.c (and cmd_train_baseline.c for --model mvae|jmvae|dae) */
int cmd_embed(int argc, char **argv);         /* cmd_embed.c */
int cmd_data(int argc, char **argv);          /* cmd_data.c: data digits, data inspect */
int cmd_eval(int argc, char **argv);          /* cmd_eval.c: retrieval, classify, importance, tsne */
int cmd_repro(int argc, char **argv);         /* cmd_repro.c: repro digits */
int cmd_toy(int argc, char **argv);           /* cmd_toy.c: the small built-in example data set */
int cmd_data_emotion(int argc, char **argv);  /* cmd_emotion.c: data emotion */
int cmd_repro_emotion(int argc, char **argv); /* cmd_emotion.c: repro emotion */

#endif
