// Production's pipeline identity may pull from the staging registry, where the image it promotes
// was pushed and tested (infra/main.bicep deploys this into staging's resource group).

@description('Name of the staging registry (infra/environments/staging.json names.acr).')
param stagingRegistryName string

@description('Principal id of the production pipeline identity.')
param principalId string

resource stagingAcr 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: stagingRegistryName
}

var acrPullRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
resource promotionPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stagingAcr.id, principalId, acrPullRoleId)
  scope: stagingAcr
  properties: {
    roleDefinitionId: acrPullRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
