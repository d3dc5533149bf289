"""A small list of common French first names, used to spot "Prénom Nom" in free text.

About 300 first names among the most given in France over the 20th century (patients of a DAC
are often old: the list leans on names given between 1920 and 1970, plus frequent recent ones),
written with their usual accents. Left out on purpose: first names that are everyday words,
places or associations in this context (France, Nancy, Lourdes, Florence, Rose, Blanche,
Constance, Victoire, Noël, Aimé, Ange, Prudence, Modeste, Désiré, Espérance, Dominique is kept).
Matching is accent- and case-insensitive (see :mod:`dac_map.coverage.unmet`).
"""

from __future__ import annotations

FIRST_NAMES: frozenset[str] = frozenset("""
Adèle Adrien Agnès Aimée Alain Albert Alexandra Alexandre Alexis Alfred Alice Aline Alix Amandine
Amélie Anaïs André Andrée Angèle Angélique Anne Annette Annick Annie Antoine Antoinette Armand
Arnaud Arthur Aude Audrey Augustin Aurélie Aurélien Baptiste Benjamin Benoît Bernadette Bernard
Béatrice Bertrand Brigitte Bruno Camille Carole Caroline Catherine Cécile Céline Chantal
Charles Charlotte Chloé Christelle Christian Christiane Christine Christophe Claire Clara Claude
Claudette Claudine Clément Colette Corinne Cyril Cédric Damien Daniel Danielle Danièle David
Delphine Denis Denise Didier Dominique Dylan Edith Édith Edmond Édouard Eliane Éliane Élise
Élisabeth Elisabeth Élodie Emma Emmanuel Emmanuelle Émile Émilie Enzo Éric Erwan Estelle Étienne
Eugène Eugénie Evelyne Évelyne Fabien Fabienne Fabrice Fernand Fernande Florian Francine
Francis Franck François Françoise Frédéric Frédérique Gabriel Gabrielle Gaston Geneviève
Georges Georgette Gérald Gérard Germaine Ghislaine Gilbert Gilberte Gilles Ginette Gisèle
Grégory Guillaume Guy Gustave Hélène Henri Henriette Hervé Hubert Hugo Hugues Inès Irène Isabelle
Jacqueline Jacques Jean Jeanne Jeannine Jérémy Jérôme Joël Joëlle Jonathan Joseph Josette
Josiane Jules Julie Julien Juliette Justine Karine Kévin Laetitia Laura Laure Laurence
Laurent Léa Léon Léonie Léo Lionel Louis Louise Loïc Lucas Luc Lucie Lucien Lucienne Lucille Ludovic
Lydie Madeleine Manon Marc Marcel Marcelle Margaux Marguerite Maria Marie Marine Marion Marius
Marthe Martin Martine Mathieu Mathilde Maurice Maxime Mélanie Michel Micheline Michèle Michelle
Mireille Monique Morgane Muriel Murielle Mickaël Nadia Nadine Nathalie Nathan Nicolas Nicole
Noël Noémie Odette Odile Olivier Pascal Pascale Patrice Patricia Patrick Paul Paulette Pauline
Philippe Pierre Pierrette Quentin Raphaël Raymond Raymonde Régine Régis Rémi Rémy Renée René
Richard Robert Roger Roland Romain Sabine Sacha Samuel Sandrine Sarah Sébastien Serge Simone
Simon Solange Sophie Stéphane Stéphanie Suzanne Suzette Sylvain Sylvie Thérèse Thierry Thomas
Théo Tristan Valentin Valérie Véronique Victor Vincent Virginie Viviane Xavier Yann Yannick Yves
Yvette Yvonne Zoé Abdel Ahmed Ali Fatima Mohamed Karim Rachid Samira Yasmine Nadia
""".split())
